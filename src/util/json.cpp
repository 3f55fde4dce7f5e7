// Strict JSON parser and serializer (see json.h for the accepted grammar).
#include <charconv>
#include <cmath>
#include <cstring>
#include <system_error>

#include <mistral/error.h>
#include <mistral/json.h>
#include <mistral/utf8.h>

namespace mistral {

namespace {

[[noreturn]] void type_error(Json::Type want, Json::Type got) {
    throw Error(Errc::kBadValue, "JSON: expected " + std::string(Json::type_name(want)) + ", got " +
                                         std::string(Json::type_name(got)));
}

bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// 2^53: doubles below this magnitude that are integral are exact int64 values.
constexpr double kExactIntLimit = 9007199254740992.0;

}  // namespace

// Recursive-descent parser; recursion depth is bounded by max_depth.
class JsonParser {
public:
    JsonParser(std::string_view text, size_t max_depth) : s_(text), max_depth_(max_depth) {}

    Json parse_document() {
        if (const size_t bad = utf8_invalid_offset(s_); bad != kUtf8Valid) {
            fail_at(bad, "invalid UTF-8");
        }
        skip_ws();
        Json v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size())
            fail("unexpected data after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail_at(size_t at, const std::string& what) const {
        throw Error(Errc::kBadValue, "JSON: " + what + " at byte offset " + std::to_string(at));
    }
    [[noreturn]] void fail(const std::string& what) const { fail_at(pos_, what); }

    void skip_ws() {
        while (pos_ < s_.size() && is_ws(s_[pos_]))
            ++pos_;
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    bool at_end() const { return pos_ >= s_.size(); }
    void expect(char c) {
        if (at_end() || s_[pos_] != c)
            fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    void expect_word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w)
            fail("invalid literal");
        pos_ += w.size();
    }

    Json parse_value(size_t depth) {
        if (at_end())
            fail("unexpected end of input");
        switch (s_[pos_]) {
            case '{':
                return parse_object(depth + 1);
            case '[':
                return parse_array(depth + 1);
            case '"':
                return Json(parse_string());
            case 't':
                expect_word("true");
                return Json(true);
            case 'f':
                expect_word("false");
                return Json(false);
            case 'n':
                expect_word("null");
                return Json(nullptr);
            default:
                if (s_[pos_] == '-' || is_digit(s_[pos_]))
                    return parse_number();
                fail("unexpected character");
        }
    }

    void check_depth(size_t depth) const {
        if (depth > max_depth_)
            fail("nesting deeper than " + std::to_string(max_depth_));
    }

    Json parse_object(size_t depth) {
        check_depth(depth);
        ++pos_;  // '{'
        Json out = Json::object();
        Json::Object& obj = out.as_object();
        skip_ws();
        if (peek() == '}') {
            ++pos_;
            return out;
        }
        while (true) {
            skip_ws();
            if (peek() != '"')
                fail("expected a string key");
            const size_t key_pos = pos_;
            std::string key = parse_string();
            // Duplicate keys are ambiguous (which one wins differs between readers): refuse.
            // O(n^2) over one object; objects here are small (a few thousand keys at most).
            for (const auto& kv : obj) {
                if (kv.first == key)
                    fail_at(key_pos, "duplicate key '" + key + "'");
            }
            skip_ws();
            expect(':');
            skip_ws();
            Json value = parse_value(depth);
            obj.emplace_back(std::move(key), std::move(value));
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            expect('}');
            return out;
        }
    }

    Json parse_array(size_t depth) {
        check_depth(depth);
        ++pos_;  // '['
        Json out = Json::array();
        Json::Array& arr = out.as_array();
        skip_ws();
        if (peek() == ']') {
            ++pos_;
            return out;
        }
        while (true) {
            skip_ws();
            arr.push_back(parse_value(depth));
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            expect(']');
            return out;
        }
    }

    // Reads the 4 hex digits of a \u escape (pos_ is just after the 'u').
    uint32_t parse_hex4() {
        if (s_.size() - pos_ < 4)
            fail("truncated \\u escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            const int h = hex_value(s_[pos_ + static_cast<size_t>(k)]);
            if (h < 0)
                fail("invalid hex digit in \\u escape");
            v = v * 16 + static_cast<uint32_t>(h);
        }
        pos_ += 4;
        return v;
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (at_end())
                fail("unterminated string");
            const char c = s_[pos_];
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (static_cast<unsigned char>(c) < 0x20)
                fail("control character in string");
            if (c != '\\') {
                out.push_back(c);  // UTF-8 was validated up front
                ++pos_;
                continue;
            }
            const size_t esc_pos = pos_;
            ++pos_;
            if (at_end())
                fail("unterminated escape");
            const char e = s_[pos_++];
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    uint32_t cp = parse_hex4();
                    if (cp >= 0xDC00 && cp <= 0xDFFF)
                        fail_at(esc_pos, "lone low surrogate");
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if (s_.substr(pos_, 2) != "\\u")
                            fail_at(esc_pos, "lone high surrogate");
                        pos_ += 2;
                        const uint32_t lo = parse_hex4();
                        if (lo < 0xDC00 || lo > 0xDFFF)
                            fail_at(esc_pos, "lone high surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    utf8_append(out, static_cast<char32_t>(cp));
                    break;
                }
                default:
                    fail_at(esc_pos, "invalid escape");
            }
        }
    }

    Json parse_number() {
        const size_t start = pos_;
        if (peek() == '-')
            ++pos_;
        if (at_end() || !is_digit(s_[pos_]))
            fail("invalid number");
        if (s_[pos_] == '0') {
            ++pos_;
            if (!at_end() && is_digit(s_[pos_]))
                fail_at(start, "leading zero in number");
        } else {
            while (!at_end() && is_digit(s_[pos_]))
                ++pos_;
        }
        bool integral = true;
        if (peek() == '.') {
            integral = false;
            ++pos_;
            if (at_end() || !is_digit(s_[pos_]))
                fail("digit expected after '.'");
            while (!at_end() && is_digit(s_[pos_]))
                ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            integral = false;
            ++pos_;
            if (peek() == '+' || peek() == '-')
                ++pos_;
            if (at_end() || !is_digit(s_[pos_]))
                fail("digit expected in exponent");
            while (!at_end() && is_digit(s_[pos_]))
                ++pos_;
        }
        const char* first = s_.data() + start;
        const char* last = s_.data() + pos_;
        double d = 0.0;
        const auto rd = std::from_chars(first, last, d);
        // from_chars reports out-of-range (e.g. 1e999) instead of returning inf: refuse it,
        // JSON has no infinities.
        if (rd.ec != std::errc() || rd.ptr != last || !std::isfinite(d)) {
            fail_at(start, "number out of range");
        }
        Json out(d);
        if (integral) {
            int64_t i = 0;
            const auto ri = std::from_chars(first, last, i);
            if (ri.ec == std::errc() && ri.ptr == last)
                out = Json(i);
        }
        return out;
    }

    std::string_view s_;
    size_t max_depth_;
    size_t pos_ = 0;
};

Json Json::parse(std::string_view text, size_t max_depth) {
    return JsonParser(text, max_depth).parse_document();
}

std::string_view Json::type_name(Type t) {
    switch (t) {
        case Type::kNull:
            return "null";
        case Type::kBool:
            return "bool";
        case Type::kNumber:
            return "number";
        case Type::kString:
            return "string";
        case Type::kArray:
            return "array";
        case Type::kObject:
            return "object";
    }
    return "?";
}

bool Json::is_int() const {
    if (!is_number())
        return false;
    const Number& n = std::get<Number>(v_);
    return n.exact_int || (std::trunc(n.d) == n.d && std::fabs(n.d) < kExactIntLimit);
}

bool Json::as_bool() const {
    if (!is_bool())
        type_error(Type::kBool, type());
    return std::get<bool>(v_);
}

double Json::as_double() const {
    if (!is_number())
        type_error(Type::kNumber, type());
    return std::get<Number>(v_).d;
}

int64_t Json::as_int() const {
    if (!is_number())
        type_error(Type::kNumber, type());
    const Number& n = std::get<Number>(v_);
    if (n.exact_int)
        return n.i;
    if (std::trunc(n.d) == n.d && std::fabs(n.d) < kExactIntLimit)
        return static_cast<int64_t>(n.d);
    throw Error(Errc::kBadValue, "JSON: expected an integer, got " + dump());
}

const std::string& Json::as_string() const {
    if (!is_string())
        type_error(Type::kString, type());
    return std::get<std::string>(v_);
}

const Json::Array& Json::as_array() const {
    if (!is_array())
        type_error(Type::kArray, type());
    return std::get<Array>(v_);
}

Json::Array& Json::as_array() {
    if (!is_array())
        type_error(Type::kArray, type());
    return std::get<Array>(v_);
}

const Json::Object& Json::as_object() const {
    if (!is_object())
        type_error(Type::kObject, type());
    return std::get<Object>(v_);
}

Json::Object& Json::as_object() {
    if (!is_object())
        type_error(Type::kObject, type());
    return std::get<Object>(v_);
}

const Json* Json::find(std::string_view key) const {
    if (!is_object())
        return nullptr;
    for (const auto& kv : std::get<Object>(v_)) {
        if (kv.first == key)
            return &kv.second;
    }
    return nullptr;
}

const Json& Json::at(std::string_view key) const {
    if (!is_object())
        type_error(Type::kObject, type());
    const Json* v = find(key);
    if (v == nullptr)
        throw Error(Errc::kBadValue, "JSON: missing key '" + std::string(key) + "'");
    return *v;
}

Json& Json::set(std::string key, Json value) {
    Object& obj = as_object();
    for (auto& kv : obj) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return kv.second;
        }
    }
    obj.emplace_back(std::move(key), std::move(value));
    return obj.back().second;
}

Json& Json::push_back(Json value) {
    Array& arr = as_array();
    arr.push_back(std::move(value));
    return arr.back();
}

size_t Json::size() const {
    if (is_array())
        return std::get<Array>(v_).size();
    if (is_object())
        return std::get<Object>(v_).size();
    return 0;
}

std::string json_quote(std::string_view s) {
    require_valid_utf8(s, "JSON string");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size() + 2);
    out.push_back('"');
    for (const char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    const auto u = static_cast<unsigned char>(c);
                    out += "\\u00";
                    out.push_back(kHex[u >> 4]);
                    out.push_back(kHex[u & 15]);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.push_back('"');
    return out;
}

void Json::dump_to(std::string& out, int indent, int level) const {
    const auto newline = [&](int lvl) {
        if (indent < 0)
            return;
        out.push_back('\n');
        out.append(static_cast<size_t>(indent) * static_cast<size_t>(lvl), ' ');
    };
    switch (type()) {
        case Type::kNull:
            out += "null";
            return;
        case Type::kBool:
            out += std::get<bool>(v_) ? "true" : "false";
            return;
        case Type::kNumber: {
            const Number& n = std::get<Number>(v_);
            char buf[32];
            std::to_chars_result r;
            if (n.exact_int) {
                r = std::to_chars(buf, buf + sizeof(buf), n.i);
            } else {
                if (!std::isfinite(n.d))
                    throw Error(Errc::kBadValue, "JSON: cannot write a non-finite number");
                // Shortest representation that reads back to the same double.
                r = std::to_chars(buf, buf + sizeof(buf), n.d);
            }
            out.append(buf, r.ptr);
            return;
        }
        case Type::kString:
            out += json_quote(std::get<std::string>(v_));
            return;
        case Type::kArray: {
            const Array& arr = std::get<Array>(v_);
            out.push_back('[');
            for (size_t k = 0; k < arr.size(); ++k) {
                if (k > 0)
                    out.push_back(',');
                newline(level + 1);
                arr[k].dump_to(out, indent, level + 1);
            }
            if (!arr.empty())
                newline(level);
            out.push_back(']');
            return;
        }
        case Type::kObject: {
            const Object& obj = std::get<Object>(v_);
            out.push_back('{');
            for (size_t k = 0; k < obj.size(); ++k) {
                if (k > 0)
                    out.push_back(',');
                newline(level + 1);
                out += json_quote(obj[k].first);
                out += indent < 0 ? ":" : ": ";
                obj[k].second.dump_to(out, indent, level + 1);
            }
            if (!obj.empty())
                newline(level);
            out.push_back('}');
            return;
        }
    }
}

std::string Json::dump(int indent) const {
    std::string out;
    dump_to(out, indent, 0);
    return out;
}

}  // namespace mistral
