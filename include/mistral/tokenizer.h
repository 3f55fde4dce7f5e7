// SentencePiece-compatible tokenizer (BPE with byte fallback; id-for-id identical to the
// sentencepiece library's EncodeAsIds/DecodeIds). Knows nothing about tensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/error.h>  // every entry point throws mistral::Error

namespace mistral {

using TokenId = int32_t;

// sentencepiece's ModelProto.SentencePiece.Type values.
enum class PieceType : uint8_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
};

// Everything the encoder/decoder needs, from tokenizer.model, a GGUF vocabulary or our file.
struct TokenizerModel {
    enum class Kind : uint8_t {
        kUnigram = 1,
        kBpe = 2,
        kWord = 3,
        kChar = 4
    };  // TrainerSpec.ModelType
    Kind kind = Kind::kBpe;
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<PieceType> types;
    TokenId unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
    // TrainerSpec fields that change encoding/decoding.
    bool byte_fallback = true;
    bool split_digits = false;
    bool treat_whitespace_as_suffix = false;
    bool allow_whitespace_only_pieces = false;
    bool split_by_whitespace = true;
    bool split_by_number = true;
    bool split_by_unicode_script = true;
    int32_t max_piece_length = 16;
    std::string unk_surface = " \xE2\x81\x87 ";  // " ⁇ "
    // NormalizerSpec.
    std::string normalizer_name = "identity";
    std::string precompiled_charsmap;  // raw bytes; we refuse non-empty maps we cannot apply
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = false;
    bool escape_whitespaces = true;

    size_t size() const { return pieces.size(); }
};

// Parses a sentencepiece tokenizer.model (protobuf). Throws mistral::Error (kBadValue /
// kTruncated / kUnsupported) on malformed or unsupported models.
TokenizerModel parse_sentencepiece_model(std::span<const std::byte> proto);
// Our own compact serialisation (the weight file's TOKN section), and its inverse; the
// inverse validates everything (it is fed untrusted bytes).
std::vector<std::byte> serialize_tokenizer(const TokenizerModel& m);
TokenizerModel deserialize_tokenizer(std::span<const std::byte> blob);
// The vocabulary of a GGUF file (its tokenizer.ggml.* keys; model "llama" = SentencePiece
// BPE) mapped onto the same structure. Throws mistral::Error on malformed or unsupported files.
TokenizerModel parse_gguf_vocab(std::span<const std::byte> gguf);
// Reads a tokenizer from a file: a sentencepiece tokenizer.model or a GGUF file (by magic).
TokenizerModel load_tokenizer_file(const std::string& path);

class Tokenizer {
public:
    // Validates the model (ids in range, pieces unique, supported normalizer); throws
    // mistral::Error.
    explicit Tokenizer(TokenizerModel model);
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    const TokenizerModel& model() const;
    size_t vocab_size() const;
    TokenId bos_id() const;
    TokenId eos_id() const;

    // EncodeAsIds. `text` must be valid UTF-8: throws Error(kInvalidUtf8) naming the byte offset.
    std::vector<TokenId> encode(std::string_view text) const;
    // DecodeIds. Throws Error(kInvalidArgument) naming an out-of-range id.
    std::string decode(std::span<const TokenId> ids) const;
    std::string_view piece(TokenId id) const;

    struct Impl;  // private to src/tokenizer

private:
    friend class StreamDecoder;
    std::unique_ptr<Impl> impl_;
};

// Incremental decoder for streaming generation: push ids one at a time, get back the text
// that became complete UTF-8 (possibly empty). Byte-fallback pieces of a split character
// are held back; invalid sequences become U+FFFD as DecodeIds does; the dummy-prefix space
// is stripped only at the very start.
class StreamDecoder {
public:
    // `tok` must outlive the decoder and stay where it is (the decoder keeps its address).
    explicit StreamDecoder(const Tokenizer& tok);
    std::string push(TokenId id);
    std::string flush();  // whatever is still held back (as U+FFFD where incomplete)
    void reset();         // start of a new text

private:
    const Tokenizer* tok_;
    std::string pending_;        // bytes of byte pieces not yet emitted
    bool at_start_ = true;       // a leading U+2581 is still the dummy prefix
    bool text_started_ = false;  // some text has been emitted
    bool bos_ws_seen_ = false;   // the last piece consumed the dummy prefix
};

}  // namespace mistral
