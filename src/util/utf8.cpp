// UTF-8 helpers; see include/mistral/utf8.h.
#include <mistral/error.h>
#include <mistral/utf8.h>

namespace mistral {

namespace {

bool is_trail(unsigned char b) {
    return (b & 0xC0u) == 0x80u;
}

// Allowed range of the second byte for a lead byte (RFC 3629 table 3-7), or {1, 0} for a
// byte that can never start a multi-byte character.
struct Range {
    unsigned char lo, hi;
};
Range second_byte_range(unsigned char lead) {
    if (lead >= 0xC2 && lead <= 0xDF)
        return {0x80, 0xBF};
    if (lead == 0xE0)
        return {0xA0, 0xBF};  // no overlongs
    if (lead >= 0xE1 && lead <= 0xEC)
        return {0x80, 0xBF};
    if (lead == 0xED)
        return {0x80, 0x9F};  // no surrogates
    if (lead >= 0xEE && lead <= 0xEF)
        return {0x80, 0xBF};
    if (lead == 0xF0)
        return {0x90, 0xBF};  // no overlongs
    if (lead >= 0xF1 && lead <= 0xF3)
        return {0x80, 0xBF};
    if (lead == 0xF4)
        return {0x80, 0x8F};  // <= U+10FFFF
    return {1, 0};
}

size_t sequence_length(unsigned char lead) {
    if (lead < 0x80)
        return 1;
    if (lead < 0xE0)
        return 2;
    if (lead < 0xF0)
        return 3;
    return 4;
}

}  // namespace

Utf8Char utf8_decode(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const unsigned char lead = p[0];
    if (lead < 0x80)
        return {lead, 1, true};
    const Range r = second_byte_range(lead);
    const size_t n = sequence_length(lead);
    if (r.lo > r.hi || s.size() < n || p[1] < r.lo || p[1] > r.hi)
        return {0xFFFD, 1, false};
    for (size_t i = 2; i < n; ++i) {
        if (!is_trail(p[i]))
            return {0xFFFD, 1, false};
    }
    char32_t cp = 0;
    if (n == 2) {
        cp = ((lead & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    } else if (n == 3) {
        cp = ((lead & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    } else {
        cp = ((lead & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
             (p[3] & 0x3Fu);
    }
    return {cp, n, true};
}

size_t utf8_invalid_offset(std::string_view s) noexcept {
    size_t i = 0;
    while (i < s.size()) {
        // ASCII fast path: most text is ASCII.
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        const Utf8Char c = utf8_decode(s.substr(i));
        if (!c.valid)
            return i;
        i += c.len;
    }
    return kUtf8Valid;
}

void require_valid_utf8(std::string_view s, std::string_view what) {
    const size_t bad = utf8_invalid_offset(s);
    if (bad != kUtf8Valid) {
        throw Error(Errc::kInvalidUtf8,
                    std::string(what) + ": invalid UTF-8 at byte offset " + std::to_string(bad));
    }
}

bool utf8_is_incomplete_prefix(std::string_view s) noexcept {
    if (s.empty())
        return false;
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const Range r = second_byte_range(p[0]);
    const size_t n = sequence_length(p[0]);
    if (r.lo > r.hi || s.size() >= n)
        return false;
    if (s.size() >= 2 && (p[1] < r.lo || p[1] > r.hi))
        return false;
    for (size_t i = 2; i < s.size(); ++i) {
        if (!is_trail(p[i]))
            return false;
    }
    return true;
}

void utf8_append(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

void utf8_append_replacing(std::string& out, std::string_view bytes) {
    size_t i = 0;
    while (i < bytes.size()) {
        const Utf8Char c = utf8_decode(bytes.substr(i));
        if (c.valid) {
            out.append(bytes.substr(i, c.len));
        } else {
            out.append(kReplacementChar);
        }
        i += c.len;
    }
}

}  // namespace mistral
