// Our compact tokenizer serialisation (the weight file's tokenizer section), little-endian:
//   "MTOK" u32 version(=1)
//   u8 kind  u8 reserved(0)  u16 flags (bit order: see kFlag*)
//   i32 unk_id, bos_id, eos_id, pad_id, max_piece_length
//   str unk_surface, str normalizer_name, str precompiled_charsmap   (str = u32 n + n bytes)
//   u32 n_pieces, then per piece: str piece, f32 score, u8 type
// deserialize_tokenizer trusts nothing: every length is bounds-checked (ByteReader), every
// enum and id validated, and the model passes the same checks as a tokenizer.model.
#include <cstring>
#include <fstream>
#include <iterator>

#include <mistral/byte_reader.h>
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral {

namespace {

constexpr char kMagic[4] = {'M', 'T', 'O', 'K'};
constexpr uint32_t kVersion = 1;
constexpr std::string_view kWhat = "tokenizer blob";

enum : uint16_t {
    kFlagByteFallback = 1 << 0,
    kFlagSplitDigits = 1 << 1,
    kFlagWhitespaceSuffix = 1 << 2,
    kFlagWhitespaceOnlyPieces = 1 << 3,
    kFlagSplitByWhitespace = 1 << 4,
    kFlagSplitByNumber = 1 << 5,
    kFlagSplitByScript = 1 << 6,
    kFlagDummyPrefix = 1 << 7,
    kFlagRemoveExtraWhitespaces = 1 << 8,
    kFlagEscapeWhitespaces = 1 << 9,
    kFlagsKnown = (1 << 10) - 1,
};

class Writer {
public:
    void raw(const void* p, size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    }
    template <typename T>
    void put(T v) {
        raw(&v, sizeof v);
    }
    void str(std::string_view s) {
        put(static_cast<uint32_t>(s.size()));
        raw(s.data(), s.size());
    }
    std::vector<std::byte> out;
};

std::string read_str(ByteReader& r, std::string_view what) {
    const uint32_t n = r.u32(what);
    return r.str(n, what);
}

}  // namespace

std::vector<std::byte> serialize_tokenizer(const TokenizerModel& m) {
    tok::check_model(m, "serialize_tokenizer");
    Writer w;
    w.raw(kMagic, 4);
    w.put(kVersion);
    w.put(static_cast<uint8_t>(m.kind));
    w.put(uint8_t{0});
    uint16_t flags = 0;
    const std::pair<bool, uint16_t> bits[] = {
            {m.byte_fallback, kFlagByteFallback},
            {m.split_digits, kFlagSplitDigits},
            {m.treat_whitespace_as_suffix, kFlagWhitespaceSuffix},
            {m.allow_whitespace_only_pieces, kFlagWhitespaceOnlyPieces},
            {m.split_by_whitespace, kFlagSplitByWhitespace},
            {m.split_by_number, kFlagSplitByNumber},
            {m.split_by_unicode_script, kFlagSplitByScript},
            {m.add_dummy_prefix, kFlagDummyPrefix},
            {m.remove_extra_whitespaces, kFlagRemoveExtraWhitespaces},
            {m.escape_whitespaces, kFlagEscapeWhitespaces},
    };
    for (auto [on, bit] : bits) {
        if (on)
            flags |= bit;
    }
    w.put(flags);
    for (int32_t v : {m.unk_id, m.bos_id, m.eos_id, m.pad_id, m.max_piece_length})
        w.put(v);
    w.str(m.unk_surface);
    w.str(m.normalizer_name);
    w.str(m.precompiled_charsmap);
    w.put(static_cast<uint32_t>(m.pieces.size()));
    for (size_t i = 0; i < m.pieces.size(); ++i) {
        w.str(m.pieces[i]);
        w.put(m.scores[i]);
        w.put(static_cast<uint8_t>(m.types[i]));
    }
    return std::move(w.out);
}

TokenizerModel deserialize_tokenizer(std::span<const std::byte> blob) {
    ByteReader r(blob);
    const auto magic = r.bytes(4, "tokenizer blob magic");
    if (std::memcmp(magic.data(), kMagic, 4) != 0) {
        throw Error(Errc::kBadMagic, std::string(kWhat) + ": bad magic (not a tokenizer section)");
    }
    const uint32_t version = r.u32("tokenizer blob version");
    if (version > kVersion) {
        throw Error(Errc::kNewerVersion,
                    std::string(kWhat) + ": version " + std::to_string(version) +
                            " is newer than this program's " + std::to_string(kVersion));
    }
    if (version == 0)
        throw Error(Errc::kBadValue, std::string(kWhat) + ": version 0");
    TokenizerModel m;
    const uint8_t kind = r.u8("tokenizer kind");
    if (kind < 1 || kind > 4)
        throw Error(Errc::kBadValue, std::string(kWhat) + ": unknown kind " + std::to_string(kind));
    m.kind = static_cast<TokenizerModel::Kind>(kind);
    r.u8("tokenizer reserved byte");
    const uint16_t flags = r.u16("tokenizer flags");
    if ((flags & ~kFlagsKnown) != 0) {
        throw Error(Errc::kBadValue,
                    std::string(kWhat) + ": unknown flags " + std::to_string(flags));
    }
    m.byte_fallback = (flags & kFlagByteFallback) != 0;
    m.split_digits = (flags & kFlagSplitDigits) != 0;
    m.treat_whitespace_as_suffix = (flags & kFlagWhitespaceSuffix) != 0;
    m.allow_whitespace_only_pieces = (flags & kFlagWhitespaceOnlyPieces) != 0;
    m.split_by_whitespace = (flags & kFlagSplitByWhitespace) != 0;
    m.split_by_number = (flags & kFlagSplitByNumber) != 0;
    m.split_by_unicode_script = (flags & kFlagSplitByScript) != 0;
    m.add_dummy_prefix = (flags & kFlagDummyPrefix) != 0;
    m.remove_extra_whitespaces = (flags & kFlagRemoveExtraWhitespaces) != 0;
    m.escape_whitespaces = (flags & kFlagEscapeWhitespaces) != 0;
    m.unk_id = r.i32("tokenizer unk_id");
    m.bos_id = r.i32("tokenizer bos_id");
    m.eos_id = r.i32("tokenizer eos_id");
    m.pad_id = r.i32("tokenizer pad_id");
    m.max_piece_length = r.i32("tokenizer max_piece_length");
    m.unk_surface = read_str(r, "tokenizer unk_surface");
    m.normalizer_name = read_str(r, "tokenizer normalizer_name");
    m.precompiled_charsmap = read_str(r, "tokenizer precompiled_charsmap");
    const uint32_t n = r.u32("tokenizer piece count");
    // Each piece takes at least 4 + 1 + 4 + 1 bytes: refuse counts the blob cannot hold
    // before allocating for them.
    if (n > r.remaining() / 10) {
        throw Error(Errc::kTruncated, std::string(kWhat) + ": " + std::to_string(n) +
                                              " pieces cannot fit in " +
                                              std::to_string(r.remaining()) + " bytes");
    }
    m.pieces.reserve(n);
    m.scores.reserve(n);
    m.types.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
        m.pieces.push_back(read_str(r, "tokenizer piece"));
        m.scores.push_back(r.f32("tokenizer piece score"));
        const uint8_t t = r.u8("tokenizer piece type");
        if (t < 1 || t > 6) {
            throw Error(Errc::kBadValue, std::string(kWhat) + ": piece " + std::to_string(i) +
                                                 " has unknown type " + std::to_string(t));
        }
        m.types.push_back(static_cast<PieceType>(t));
    }
    if (!r.at_end()) {
        throw Error(Errc::kBadValue, std::string(kWhat) + ": " + std::to_string(r.remaining()) +
                                             " trailing bytes after the last piece");
    }
    tok::check_model(m, kWhat);
    return m;
}

TokenizerModel load_tokenizer_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(Errc::kIo, path + ": cannot open");
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad())
        throw Error(Errc::kIo, path + ": read failed");
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data.data()),
                                           data.size());
    try {
        if (data.size() >= 4 && std::memcmp(data.data(), "GGUF", 4) == 0)
            return parse_gguf_vocab(bytes);
        return parse_sentencepiece_model(bytes);
    } catch (const Error& e) {
        throw with_context(e, path);
    }
}

}  // namespace mistral
