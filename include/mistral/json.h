// A small, strict JSON (RFC 8259) value type with a safe parser and a serializer.
// Used for config.json / params.json / safetensors headers (untrusted input) and for writing
// chat conversations and --json output.
//
// Parser rules: UTF-8 input only (validated), no comments, no trailing commas, no NaN/Infinity,
// no leading zeros, duplicate object keys rejected, nesting limited to `max_depth`. Strings
// decode every escape, including \uXXXX surrogate pairs, to UTF-8 (lone surrogates rejected).
// Numbers are kept as double, plus an exact int64 when the literal is an integer that fits.
// Every malformed input throws Error(kBadValue) naming the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace mistral {

class Json {
public:
    enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
    using Array = std::vector<Json>;
    using Object = std::vector<std::pair<std::string, Json>>;  // insertion order, unique keys

    Json() = default;  // null
    Json(std::nullptr_t) {}
    Json(bool b) : v_(b) {}
    Json(int v) : v_(Number{static_cast<double>(v), v, true}) {}
    Json(int64_t v) : v_(Number{static_cast<double>(v), v, true}) {}
    Json(uint64_t v)  // exact when it fits in int64, else the nearest double
        : v_(v <= static_cast<uint64_t>(INT64_MAX)
                     ? Number{static_cast<double>(v), static_cast<int64_t>(v), true}
                     : Number{static_cast<double>(v), 0, false}) {}
    Json(double v) : v_(Number{v, 0, false}) {}
    Json(std::string s) : v_(std::move(s)) {}
    Json(std::string_view s) : v_(std::string(s)) {}
    Json(const char* s) : v_(std::string(s)) {}
    Json(Array a) : v_(std::move(a)) {}
    Json(Object o) : v_(std::move(o)) {}
    static Json array() { return Json(Array{}); }
    static Json object() { return Json(Object{}); }

    // Parses a whole document (surrounding whitespace allowed). Throws Error(kBadValue).
    static Json parse(std::string_view text, size_t max_depth = 128);

    Type type() const { return static_cast<Type>(v_.index()); }
    bool is_null() const { return type() == Type::kNull; }
    bool is_bool() const { return type() == Type::kBool; }
    bool is_number() const { return type() == Type::kNumber; }
    bool is_string() const { return type() == Type::kString; }
    bool is_array() const { return type() == Type::kArray; }
    bool is_object() const { return type() == Type::kObject; }
    // A number with an exact int64 value (integer literal in range, or integral double < 2^53).
    bool is_int() const;

    // Typed accessors; each throws Error(kBadValue) "expected <type>, got <type>" on mismatch
    // (as_int also when the number is not an exact integer).
    bool as_bool() const;
    double as_double() const;
    int64_t as_int() const;
    const std::string& as_string() const;
    const Array& as_array() const;
    const Object& as_object() const;
    Array& as_array();
    Object& as_object();

    // Object lookup: nullptr if absent (or if this is not an object). O(n).
    const Json* find(std::string_view key) const;
    // Object lookup that throws Error(kBadValue) "missing key '<key>'" if absent.
    const Json& at(std::string_view key) const;
    // Sets (replaces or appends) a key; this must be an object (throws kBadValue otherwise).
    Json& set(std::string key, Json value);
    // Appends to an array (throws kBadValue if this is not an array).
    Json& push_back(Json value);
    size_t size() const;  // elements of an array/object, 0 otherwise

    // Serializes. indent < 0: compact one line; otherwise pretty-printed with that many spaces.
    // Throws Error(kBadValue) for a non-finite number, Error(kInvalidUtf8) for a string that is
    // not valid UTF-8.
    std::string dump(int indent = -1) const;

    // "null", "bool", "number", "string", "array", "object".
    static std::string_view type_name(Type t);

private:
    struct Number {
        double d = 0.0;
        int64_t i = 0;
        bool exact_int = false;
    };
    // Index order must match Type.
    std::variant<std::monostate, bool, Number, std::string, Array, Object> v_;

    friend class JsonParser;
    void dump_to(std::string& out, int indent, int level) const;
};

// The JSON string literal for `s` (with the quotes): escapes ", \ and control characters
// (\n, \t, ... or \u00XX), passes other UTF-8 through. Throws Error(kInvalidUtf8) on invalid UTF-8.
std::string json_quote(std::string_view s);

}  // namespace mistral
