#include "tokenizer/piece_map.h"

#include <cstring>

namespace mistral::tok {

uint64_t hash_bytes(std::string_view s) noexcept {
    const char* p = s.data();
    size_t n = s.size();
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (static_cast<uint64_t>(n) * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t v;
        std::memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    if (n > 0)
        std::memcpy(&v, p, n);
    h = (h ^ v) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return h;
}

PieceMap::PieceMap(const std::vector<std::string>& pieces) : pieces_(&pieces) {
    size_t cap = 16;
    while (cap < 2 * pieces.size())
        cap *= 2;
    slots_.assign(cap, Slot{});
    mask_ = cap - 1;
}

bool PieceMap::matches(const Slot& s, uint32_t tag, std::string_view key) const noexcept {
    if (s.tag != tag)
        return false;
    if (key.size() <= kInline)
        return s.len == key.size() && std::memcmp(s.key, key.data(), key.size()) == 0;
    return s.len == 255 && (*pieces_)[static_cast<size_t>(s.key_id)] == key;
}

PieceIds& PieceMap::insert(TokenId key_id) {
    const std::string& key = (*pieces_)[static_cast<size_t>(key_id)];
    const uint64_t h = hash_bytes(key);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        Slot& s = slots_[i];
        if (s.key_id < 0) {
            s.tag = tag;
            s.key_id = key_id;
            if (key.size() <= kInline) {
                s.len = static_cast<uint8_t>(key.size());
                std::memcpy(s.key, key.data(), key.size());
            } else {
                s.len = 255;
            }
            return s.ids;
        }
        if (matches(s, tag, key))
            return s.ids;
    }
}

const PieceIds* PieceMap::find(std::string_view key) const noexcept {
    if (slots_.empty())
        return nullptr;
    const uint64_t h = hash_bytes(key);
    const auto tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        if (s.key_id < 0)
            return nullptr;
        if (matches(s, tag, key))
            return &s.ids;
    }
}

}  // namespace mistral::tok
