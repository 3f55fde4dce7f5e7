// sentencepiece's Normalizer::Normalize for models without a precompiled charsmap (the
// "identity" rule: Mistral, Llama 2 and our fixtures). Models with a charsmap are refused in
// the Tokenizer constructor, so this never silently normalizes differently.
#include <mistral/utf8.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral::tok {

namespace {

// Appends `sp`, replacing ' ' with `ws` when whitespace is escaped.
void append_escaped(std::string& out, std::string_view sp, bool escape, std::string_view ws) {
    if (!escape) {
        out.append(sp);
        return;
    }
    for (char c : sp) {
        if (c == ' ') {
            out.append(ws);
        } else {
            out += c;
        }
    }
}

}  // namespace

void normalize(const Tokenizer::Impl& t, std::string_view input, std::string& out) {
    const TokenizerModel& m = t.model;
    out.clear();
    if (input.empty())
        return;  // no dummy prefix for empty text

    // NormalizePrefix without a charsmap: a whole user-defined symbol, else one character.
    const auto prefix_len = [&t](std::string_view s) -> size_t {
        if (!t.user.empty()) {
            const size_t u = t.user.match(s);
            if (u > 0)
                return u;
        }
        return utf8_decode(s).len;  // the text was validated, so this is the character length
    };
    const std::string_view ws = m.escape_whitespaces ? kSpaceSymbol : std::string_view(" ");

    size_t i = 0;
    if (m.remove_extra_whitespaces) {  // drop leading spaces
        while (i < input.size() && input[i] == ' ' && prefix_len(input.substr(i)) == 1)
            ++i;
        if (i == input.size())
            return;  // all whitespace
    }
    out.reserve(input.size() + input.size() / 2 + 8);
    if (!m.treat_whitespace_as_suffix && m.add_dummy_prefix)
        out.append(ws);

    if (!m.remove_extra_whitespaces) {
        // Fast path: piece boundaries do not matter, every ' ' is escaped.
        append_escaped(out, input.substr(i), m.escape_whitespaces, ws);
    } else {
        // Collapse runs of spaces: a unit's leading spaces are dropped after a unit that
        // ended with a space.
        bool is_prev_space = true;
        while (i < input.size()) {
            const size_t len = prefix_len(input.substr(i));
            std::string_view sp = input.substr(i, len);
            while (is_prev_space && !sp.empty() && sp.front() == ' ')
                sp.remove_prefix(1);
            if (!sp.empty()) {
                append_escaped(out, sp, m.escape_whitespaces, ws);
                is_prev_space = sp.back() == ' ';
            }
            i += len;
        }
        // Drop trailing spaces.
        while (out.size() >= ws.size() &&
               std::string_view(out).substr(out.size() - ws.size()) == ws) {
            out.resize(out.size() - ws.size());
        }
    }
    if (m.treat_whitespace_as_suffix && m.add_dummy_prefix)
        out.append(ws);
}

}  // namespace mistral::tok
