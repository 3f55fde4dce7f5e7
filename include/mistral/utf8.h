// UTF-8 validation and decoding (RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF). The same strictness as sentencepiece's DecodeUTF8, which the tokenizer must match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mistral {

inline constexpr size_t kUtf8Valid = static_cast<size_t>(-1);
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Result of decoding one character at the front of a byte string.
struct Utf8Char {
    char32_t cp = 0;  // the code point; 0xFFFD when !valid
    size_t len = 1;   // bytes consumed: the character's length, or 1 when !valid
    bool valid = false;
};

// Decodes the character at the front of `s` (s must be non-empty). An invalid or truncated
// sequence gives {0xFFFD, 1, false}: callers replace it byte by byte, as sentencepiece does.
Utf8Char utf8_decode(std::string_view s) noexcept;

// Offset of the first byte that does not start a valid character, or kUtf8Valid. O(n).
size_t utf8_invalid_offset(std::string_view s) noexcept;

// Throws Error(kInvalidUtf8) "<what>: invalid UTF-8 at byte offset N" unless `s` is valid.
void require_valid_utf8(std::string_view s, std::string_view what);

// True if `s` (non-empty) could still become a valid character with more bytes appended:
// a well-formed but incomplete prefix such as "\xE2\x82". Used by streaming decoders.
bool utf8_is_incomplete_prefix(std::string_view s) noexcept;

// Appends the UTF-8 encoding of `cp` (must be a valid scalar value).
void utf8_append(std::string& out, char32_t cp);

// Copies `bytes`, replacing every byte that does not start a valid character with U+FFFD
// (one replacement per bad byte: sentencepiece's DecodeIds rule, not maximal subparts).
void utf8_append_replacing(std::string& out, std::string_view bytes);

}  // namespace mistral
