// Private to src/tokenizer: the prepared tables behind Tokenizer, shared by the normalizer,
// the BPE encoder and the decoders.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/tokenizer.h>

#include "tokenizer/piece_map.h"

namespace mistral {

namespace tok {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 "▁"

// Longest-prefix matcher over the user-defined pieces (sentencepiece's PrefixMatcher).
class UserSymbolMatcher {
public:
    void build(const TokenizerModel& m);
    bool empty() const { return by_first_byte_empty_; }
    // Length of the longest user-defined piece that prefixes `s`, or 0.
    size_t match(std::string_view s) const noexcept;

private:
    std::array<std::vector<std::string_view>, 256> by_first_byte_;  // longest first
    bool by_first_byte_empty_ = true;
};

// Structural checks every model must pass before use (mirrors ModelInterface's
// InitializePieces plus id ranges). Throws Error(kBadValue) naming `what`.
void check_model(const TokenizerModel& m, std::string_view what);

// The byte value of a "<0xXX>" piece (upper-case hex, as sentencepiece writes it), or -1.
int piece_to_byte(std::string_view piece) noexcept;

}  // namespace tok

struct Tokenizer::Impl {
    explicit Impl(TokenizerModel m);

    TokenizerModel model;
    tok::PieceMap map;                   // piece text -> ids
    std::array<TokenId, 256> byte_id{};  // PieceToId("<0xXX>") per byte (unk if absent)
    std::vector<int16_t> byte_value;     // [vocab] byte of a kByte piece, else -1
    std::vector<TokenId> canonical;      // [vocab] PieceToId(IdToPiece(id)) as DecodeIds does
    std::vector<uint8_t> unused;         // [vocab] 1 for kUnused pieces
    bool any_unused = false;
    tok::UserSymbolMatcher user;
    size_t max_piece_bytes = 0;  // longest mergeable piece; longer pairs never match
    // Adjacent character pairs (c1, c2) that occur inside some mergeable piece. No merge can
    // cross a boundary between two characters that are not in this set, so the encoder may
    // run its heap on the stretches between such boundaries independently (same result,
    // far better cache behaviour on long texts). Off when `any_unused` (the library's
    // resegmentation map is global) or when a piece is not valid UTF-8.
    std::vector<uint64_t> char_pairs;  // open addressing; 0 = empty, else key + 1
    bool can_split = false;

    bool char_pair_in_pieces(char32_t c1, char32_t c2) const noexcept;

    // PieceToId(s): reserved pieces first, then normal ones, else unk_id.
    TokenId piece_to_id(std::string_view s) const noexcept {
        const tok::PieceIds* e = map.find(s);
        return (e != nullptr && e->lookup_id >= 0) ? e->lookup_id : model.unk_id;
    }
    PieceType type(TokenId id) const { return model.types[static_cast<size_t>(id)]; }

private:
    void build_char_pairs();
};

namespace tok {

// Normalizer::Normalize for a model without a precompiled charsmap (identity): dummy prefix,
// optional extra-whitespace removal, ' ' -> U+2581. `text` is valid UTF-8. Appends to `out`.
void normalize(const Tokenizer::Impl& t, std::string_view text, std::string& out);

// bpe::Model::Encode over a normalized string, then the processor's id post-processing
// (byte fallback for unknown symbols, merging runs of unknowns). Appends to `ids`.
void bpe_encode(const Tokenizer::Impl& t, std::string_view normalized, std::vector<TokenId>& ids);

// DecodeIds state, shared by Tokenizer::decode and StreamDecoder.
struct DecodeState {
    std::string pending;        // bytes of consecutive byte pieces not yet turned into text
    bool text_started = false;  // some text has been produced
    bool is_bos_ws = true;      // a leading U+2581 of the next piece is the dummy prefix
    bool bos_ws_seen = false;   // the previous piece consumed the dummy prefix
};

// Feeds one (range-checked) id; appends the text that is final to `out`. With `stream`,
// complete characters of pending bytes are emitted as soon as they are decided.
void decode_step(const Tokenizer::Impl& t, DecodeState& st, TokenId id, bool stream,
                 std::string& out);
// Emits what is still pending (invalid or incomplete bytes become U+FFFD each).
void decode_finish(DecodeState& st, std::string& out);

}  // namespace tok

}  // namespace mistral
