// A tiny test-only JSON reader for the tokenizer's .jsonl fixtures: objects, arrays,
// strings (with \uXXXX escapes and surrogate pairs), numbers, true/false/null. Throws
// std::runtime_error on anything malformed. Not a general parser (see include/mistral/json.h).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <mistral/utf8.h>

namespace mistral::test::json {

struct Value {
    enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
    bool b = false;
    int64_t num = 0;    // integer value
    double real = 0.0;  // the number as a double
    std::string str;
    std::vector<Value> arr;
    std::vector<std::pair<std::string, Value>> obj;

    const Value& at(std::string_view key) const {
        for (const auto& [k, v] : obj) {
            if (k == key)
                return v;
        }
        throw std::runtime_error("json: no key '" + std::string(key) + "'");
    }
    bool has(std::string_view key) const {
        for (const auto& kv : obj) {
            if (kv.first == key)
                return true;
        }
        return false;
    }
    std::vector<int32_t> ints() const {
        std::vector<int32_t> out;
        for (const auto& v : arr)
            out.push_back(static_cast<int32_t>(v.num));
        return out;
    }
    std::vector<std::string> strings() const {
        std::vector<std::string> out;
        for (const auto& v : arr)
            out.push_back(v.str);
        return out;
    }
};

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Value parse_document() {
        Value v = value();
        ws();
        if (i_ != s_.size())
            fail("trailing characters");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& msg) const {
        throw std::runtime_error("json: " + msg + " at offset " + std::to_string(i_));
    }
    void ws() {
        while (i_ < s_.size() &&
               (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
            ++i_;
    }
    char peek() {
        ws();
        if (i_ >= s_.size())
            fail("unexpected end");
        return s_[i_];
    }
    void expect(char c) {
        if (peek() != c)
            fail(std::string("expected '") + c + "'");
        ++i_;
    }
    bool literal(std::string_view lit) {
        if (s_.substr(i_, lit.size()) == lit) {
            i_ += lit.size();
            return true;
        }
        return false;
    }
    Value value() {
        Value v;
        const char c = peek();
        if (c == '{') {
            v.kind = Value::Kind::kObject;
            ++i_;
            if (peek() == '}') {
                ++i_;
                return v;
            }
            for (;;) {
                std::string k = string_body();
                expect(':');
                v.obj.emplace_back(std::move(k), value());
                if (peek() == ',') {
                    ++i_;
                    continue;
                }
                expect('}');
                return v;
            }
        }
        if (c == '[') {
            v.kind = Value::Kind::kArray;
            ++i_;
            if (peek() == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.arr.push_back(value());
                if (peek() == ',') {
                    ++i_;
                    continue;
                }
                expect(']');
                return v;
            }
        }
        if (c == '"') {
            v.kind = Value::Kind::kString;
            v.str = string_body();
            return v;
        }
        if (literal("true")) {
            v.kind = Value::Kind::kBool;
            v.b = true;
            return v;
        }
        if (literal("false")) {
            v.kind = Value::Kind::kBool;
            return v;
        }
        if (literal("null"))
            return v;
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = Value::Kind::kNumber;
            const size_t start = i_;
            if (s_[i_] == '-')
                ++i_;
            while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
                ++i_;
            if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) {
                // A real number (e.g. a margin): kept as `real`; `num` gets the truncation.
                while (i_ < s_.size() &&
                       std::string_view("0123456789.eE+-").find(s_[i_]) != std::string_view::npos)
                    ++i_;
                v.real = std::stod(std::string(s_.substr(start, i_ - start)));
                v.num = static_cast<int64_t>(v.real);
                return v;
            }
            v.num = std::stoll(std::string(s_.substr(start, i_ - start)));
            v.real = static_cast<double>(v.num);
            return v;
        }
        fail("unexpected character");
    }
    unsigned hex4() {
        if (i_ + 4 > s_.size())
            fail("short \\u escape");
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = s_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9') {
                v |= static_cast<unsigned>(h - '0');
            } else if (h >= 'a' && h <= 'f') {
                v |= static_cast<unsigned>(h - 'a' + 10);
            } else if (h >= 'A' && h <= 'F') {
                v |= static_cast<unsigned>(h - 'A' + 10);
            } else {
                fail("bad hex digit");
            }
        }
        return v;
    }
    std::string string_body() {
        expect('"');
        std::string out;
        for (;;) {
            if (i_ >= s_.size())
                fail("unterminated string");
            const char c = s_[i_++];
            if (c == '"')
                return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size())
                fail("unterminated escape");
            const char e = s_[i_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    char32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        if (!literal("\\u"))
                            fail("lone high surrogate");
                        const unsigned lo = hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            fail("bad low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        fail("lone low surrogate");
                    }
                    utf8_append(out, cp);
                    break;
                }
                default:
                    fail("bad escape");
            }
        }
    }

    std::string_view s_;
    size_t i_ = 0;
};

inline Value parse(std::string_view s) {
    return Parser(s).parse_document();
}

// Every non-empty line of a .jsonl text, parsed.
inline std::vector<Value> parse_lines(const std::string& text) {
    std::vector<Value> out;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        if (end > start)
            out.push_back(parse(std::string_view(text).substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

}  // namespace mistral::test::json
