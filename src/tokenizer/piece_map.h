// Open-addressing hash map from piece text to ids, tuned for the encoder's hot lookup
// ("is this concatenation of two symbols a piece?"). Keys are views into the model's pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/tokenizer.h>

namespace mistral::tok {

// The two lookups sentencepiece's ModelInterface performs on a piece string:
//  - merge_id: the id in `pieces_` (normal, user-defined and unused pieces), the only pieces
//    BPE may merge into; -1 if absent.
//  - lookup_id: PieceToId(): reserved pieces (control, unknown, byte) win over `pieces_`;
//    -1 if absent (the caller maps that to unk).
struct PieceIds {
    TokenId merge_id = -1;
    TokenId lookup_id = -1;
};

class PieceMap {
public:
    PieceMap() = default;
    // Builds the map; `pieces` must outlive it. Duplicate handling is the caller's job (it
    // decides which category wins); insert() returns the entry to update.
    explicit PieceMap(const std::vector<std::string>& pieces);
    PieceIds& insert(TokenId key_id);
    // The ids for `s`, or nullptr if no piece has this text. O(1) expected.
    const PieceIds* find(std::string_view s) const noexcept;

private:
    // 32 bytes. Keys of up to kInline bytes are compared in the slot itself, so a lookup
    // touches one cache line; longer keys are compared against the model's piece.
    static constexpr size_t kInline = 15;
    struct Slot {
        uint32_t tag = 0;  // high half of the hash
        uint8_t len = 0;   // key length, or 255 if longer than kInline
        char key[kInline] = {};
        TokenId key_id = -1;  // index into pieces_ of the key; -1 = empty
        PieceIds ids;
    };
    bool matches(const Slot& s, uint32_t tag, std::string_view key) const noexcept;

    const std::vector<std::string>* pieces_ = nullptr;
    std::vector<Slot> slots_;  // [capacity], capacity a power of two >= 2 * pieces
    size_t mask_ = 0;
};

// A fast non-cryptographic hash of a byte string.
uint64_t hash_bytes(std::string_view s) noexcept;

}  // namespace mistral::tok
