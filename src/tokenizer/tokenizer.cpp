// Tokenizer: validates a TokenizerModel once and prepares the lookup tables the encoder and
// decoder use. Encoding = normalize (normalizer.cpp) + BPE (bpe_encoder.cpp); decoding lives
// in decoder.cpp.
#include <algorithm>
#include <cmath>
#include <limits>

#include <mistral/error.h>
#include <mistral/tokenizer.h>
#include <mistral/utf8.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral {

namespace tok {

namespace {

uint64_t pair_key(char32_t c1, char32_t c2) {
    return (uint64_t{c1} << 32) | c2;
}

uint64_t mix(uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

bool is_mergeable(PieceType t) {
    return t == PieceType::kNormal || t == PieceType::kUserDefined || t == PieceType::kUnused;
}

[[noreturn]] void bad(std::string_view what, const std::string& msg) {
    throw Error(Errc::kBadValue, std::string(what) + ": " + msg);
}

// Printable form of a piece for error messages (pieces may hold control bytes).
std::string show(std::string_view piece) {
    std::string out = "'";
    for (char c : piece.substr(0, 40)) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7F) {
            static const char kHex[] = "0123456789ABCDEF";
            out += "\\x";
            out += kHex[u >> 4];
            out += kHex[u & 15];
        } else {
            out += c;
        }
    }
    return out + (piece.size() > 40 ? "...'" : "'");
}

}  // namespace

int piece_to_byte(std::string_view p) noexcept {
    // Exactly "<0x" + two upper-case hex digits + ">", like sentencepiece's ByteToPiece.
    if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>')
        return -1;
    int v = 0;
    for (size_t i = 3; i < 5; ++i) {
        const char c = p[i];
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

void check_model(const TokenizerModel& m, std::string_view what) {
    const size_t n = m.pieces.size();
    if (n == 0)
        bad(what, "the vocabulary is empty");
    if (n > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
        bad(what, "too many pieces (" + std::to_string(n) + ")");
    }
    if (m.scores.size() != n || m.types.size() != n) {
        bad(what, "pieces, scores and types differ in length (" + std::to_string(n) + ", " +
                          std::to_string(m.scores.size()) + ", " + std::to_string(m.types.size()) +
                          ")");
    }
    const auto in_range = [n](TokenId id) { return id >= 0 && static_cast<size_t>(id) < n; };
    TokenId unk = -1;
    std::array<bool, 256> byte_found{};
    // Uniqueness within each of sentencepiece's two maps (pieces_ and reserved_id_map_).
    PieceMap seen(m.pieces);
    for (size_t i = 0; i < n; ++i) {
        const std::string& p = m.pieces[i];
        const PieceType t = m.types[i];
        const auto ti = static_cast<int>(t);
        if (ti < 1 || ti > 6)
            bad(what, "piece " + std::to_string(i) + " has invalid type " + std::to_string(ti));
        if (p.empty())
            bad(what, "piece " + std::to_string(i) + " is empty");
        if (std::isnan(m.scores[i]))
            bad(what, "piece " + std::to_string(i) + " has a NaN score");
        PieceIds& e = seen.insert(static_cast<TokenId>(i));
        TokenId& slot = is_mergeable(t) ? e.merge_id : e.lookup_id;
        if (slot >= 0)
            bad(what, "piece " + show(p) + " is defined twice (ids " + std::to_string(slot) +
                              " and " + std::to_string(i) + ")");
        slot = static_cast<TokenId>(i);
        if (t == PieceType::kUnknown) {
            if (unk >= 0)
                bad(what, "two unknown pieces (ids " + std::to_string(unk) + " and " +
                                  std::to_string(i) + ")");
            unk = static_cast<TokenId>(i);
        }
        if (t == PieceType::kByte) {
            if (!m.byte_fallback)
                bad(what, "byte piece " + show(p) + " although byte_fallback is off");
            const int b = piece_to_byte(p);
            if (b < 0)
                bad(what, "invalid byte piece " + show(p));
            byte_found[static_cast<size_t>(b)] = true;
        }
    }
    if (unk < 0)
        bad(what, "no unknown piece");
    if (m.unk_id != unk) {
        bad(what, "unk_id " + std::to_string(m.unk_id) + " is not the unknown piece (id " +
                          std::to_string(unk) + ")");
    }
    if (m.byte_fallback &&
        std::find(byte_found.begin(), byte_found.end(), false) != byte_found.end()) {
        bad(what, "byte_fallback is on but not all 256 byte pieces exist");
    }
    for (auto [name, id] :
         {std::pair{"bos_id", m.bos_id}, {"eos_id", m.eos_id}, {"pad_id", m.pad_id}}) {
        if (id != -1 && !in_range(id))
            bad(what, std::string(name) + " " + std::to_string(id) + " is out of range");
    }
}

void UserSymbolMatcher::build(const TokenizerModel& m) {
    for (size_t i = 0; i < m.pieces.size(); ++i) {
        if (m.types[i] != PieceType::kUserDefined)
            continue;
        const std::string& p = m.pieces[i];
        by_first_byte_[static_cast<unsigned char>(p[0])].push_back(p);
        by_first_byte_empty_ = false;
    }
    for (auto& v : by_first_byte_) {
        std::stable_sort(v.begin(), v.end(), [](std::string_view a, std::string_view b) {
            return a.size() > b.size();
        });
    }
}

size_t UserSymbolMatcher::match(std::string_view s) const noexcept {
    if (s.empty())
        return 0;
    for (std::string_view p : by_first_byte_[static_cast<unsigned char>(s[0])]) {
        if (s.substr(0, p.size()) == p)
            return p.size();  // candidates are longest first
    }
    return 0;
}

}  // namespace tok

Tokenizer::Impl::Impl(TokenizerModel m) : model(std::move(m)) {
    tok::check_model(model, "tokenizer");
    if (model.kind != TokenizerModel::Kind::kBpe) {
        throw Error(Errc::kUnsupported,
                    "tokenizer: only BPE models are supported (this one is " +
                            std::string(model.kind == TokenizerModel::Kind::kUnigram ? "unigram"
                                        : model.kind == TokenizerModel::Kind::kWord  ? "word"
                                                                                     : "char") +
                            ")");
    }
    if (!model.precompiled_charsmap.empty()) {
        // A precompiled charsmap is a normalization rule (e.g. nmt_nfkc); applying it wrongly
        // would silently change ids, so such models are refused.
        throw Error(Errc::kUnsupported,
                    "tokenizer: normalization rule '" + model.normalizer_name +
                            "' (a precompiled charsmap) is not supported; only identity");
    }
    const size_t n = model.pieces.size();
    map = tok::PieceMap(model.pieces);
    byte_value.assign(n, -1);
    unused.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
        const PieceType t = model.types[i];
        tok::PieceIds& e = map.insert(static_cast<TokenId>(i));
        if (t == PieceType::kNormal || t == PieceType::kUserDefined || t == PieceType::kUnused) {
            e.merge_id = static_cast<TokenId>(i);
            max_piece_bytes = std::max(max_piece_bytes, model.pieces[i].size());
        } else {
            e.lookup_id = static_cast<TokenId>(i);  // reserved pieces win PieceToId
        }
        if (t == PieceType::kByte)
            byte_value[i] = static_cast<int16_t>(tok::piece_to_byte(model.pieces[i]));
        if (t == PieceType::kUnused) {
            unused[i] = 1;
            any_unused = true;
        }
    }
    for (size_t i = 0; i < n; ++i) {
        tok::PieceIds& e = map.insert(static_cast<TokenId>(i));
        if (e.lookup_id < 0)
            e.lookup_id = e.merge_id;
    }
    static const char kHex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const std::string p = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
        byte_id[static_cast<size_t>(b)] = piece_to_id(p);
    }
    canonical.resize(n);
    for (size_t i = 0; i < n; ++i)
        canonical[i] = piece_to_id(model.pieces[i]);
    user.build(model);
    build_char_pairs();
}

void Tokenizer::Impl::build_char_pairs() {
    can_split = !any_unused;
    std::vector<uint64_t> keys;
    for (size_t i = 0; i < model.pieces.size() && can_split; ++i) {
        const PieceType t = model.types[i];
        if (t != PieceType::kNormal && t != PieceType::kUserDefined && t != PieceType::kUnused)
            continue;
        std::string_view p = model.pieces[i];
        char32_t prev = 0;
        bool first = true;
        while (!p.empty()) {
            const Utf8Char c = utf8_decode(p);
            if (!c.valid) {
                can_split = false;  // char boundaries inside this piece are not well defined
                break;
            }
            if (!first)
                keys.push_back(tok::pair_key(prev, c.cp));
            prev = c.cp;
            first = false;
            p.remove_prefix(c.len);
        }
    }
    if (!can_split)
        return;
    size_t cap = 64;
    while (cap < 2 * keys.size())
        cap *= 2;
    char_pairs.assign(cap, 0);
    for (uint64_t k : keys) {
        for (size_t j = tok::mix(k) & (cap - 1);; j = (j + 1) & (cap - 1)) {
            if (char_pairs[j] == 0) {
                char_pairs[j] = k + 1;
                break;
            }
            if (char_pairs[j] == k + 1)
                break;
        }
    }
}

bool Tokenizer::Impl::char_pair_in_pieces(char32_t c1, char32_t c2) const noexcept {
    const uint64_t k = tok::pair_key(c1, c2);
    const size_t mask = char_pairs.size() - 1;
    for (size_t j = tok::mix(k) & mask;; j = (j + 1) & mask) {
        if (char_pairs[j] == 0)
            return false;
        if (char_pairs[j] == k + 1)
            return true;
    }
}

Tokenizer::Tokenizer(TokenizerModel model) : impl_(std::make_unique<Impl>(std::move(model))) {}
Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

const TokenizerModel& Tokenizer::model() const {
    return impl_->model;
}
size_t Tokenizer::vocab_size() const {
    return impl_->model.pieces.size();
}
TokenId Tokenizer::bos_id() const {
    return impl_->model.bos_id;
}
TokenId Tokenizer::eos_id() const {
    return impl_->model.eos_id;
}

std::string_view Tokenizer::piece(TokenId id) const {
    if (id < 0 || static_cast<size_t>(id) >= vocab_size()) {
        throw Error(Errc::kInvalidArgument, "token id " + std::to_string(id) +
                                                    " is out of range [0, " +
                                                    std::to_string(vocab_size()) + ")");
    }
    return impl_->model.pieces[static_cast<size_t>(id)];
}

std::vector<TokenId> Tokenizer::encode(std::string_view text) const {
    require_valid_utf8(text, "text");
    // Symbol indices and offsets are 32-bit in the encoder; normalization at most triples
    // the size (every ' ' becomes 3 bytes).
    if (text.size() > (size_t{1} << 29)) {
        throw Error(Errc::kInvalidArgument, "text: too long to encode at once (" +
                                                    std::to_string(text.size()) +
                                                    " bytes; the limit is 512 MiB)");
    }
    std::string normalized;
    tok::normalize(*impl_, text, normalized);
    std::vector<TokenId> ids;
    tok::bpe_encode(*impl_, normalized, ids);
    return ids;
}

}  // namespace mistral
