// GGUF parser. Layout (GGUF specification, v2/v3; all integers little-endian):
//   "GGUF" u32 version  u64 n_tensors  u64 n_kv
//   n_kv x { string key, u32 value_type, value }      string = u64 length + bytes (no NUL)
//   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (default 32), then the data section; tensor offsets are
//   relative to it and multiples of the alignment.
#include "gguf_reader.h"

#include <array>
#include <unordered_set>

#include <mistral/byte_reader.h>
#include <mistral/error.h>

namespace mistral::convert {

namespace {

constexpr uint32_t kMaxDims = 4;      // GGML_MAX_DIMS
constexpr size_t kMaxArrayDepth = 8;  // nested arrays deeper than this are refused
constexpr uint64_t kDefaultAlignment = 32;

// Known ggml types: name, values per block, bytes per block (0 bytes = no such type).
constexpr std::array<GgmlTypeInfo, 40> kGgmlTypes = {{
        {"f32", 1, 4},        {"f16", 1, 2},       {"q4_0", 32, 18},     {"q4_1", 32, 20},
        {"", 0, 0},           {"", 0, 0},          {"q5_0", 32, 22},     {"q5_1", 32, 24},
        {"q8_0", 32, 34},     {"q8_1", 32, 36},    {"q2_K", 256, 84},    {"q3_K", 256, 110},
        {"q4_K", 256, 144},   {"q5_K", 256, 176},  {"q6_K", 256, 210},   {"q8_K", 256, 292},
        {"iq2_xxs", 256, 66}, {"iq2_xs", 256, 74}, {"iq3_xxs", 256, 98}, {"iq1_s", 256, 50},
        {"iq4_nl", 32, 18},   {"iq3_s", 256, 110}, {"iq2_s", 256, 82},   {"iq4_xs", 256, 136},
        {"i8", 1, 1},         {"i16", 1, 2},       {"i32", 1, 4},        {"i64", 1, 8},
        {"f64", 1, 8},        {"iq1_m", 256, 56},  {"bf16", 1, 2},       {"", 0, 0},
        {"", 0, 0},           {"", 0, 0},          {"tq1_0", 256, 54},   {"tq2_0", 256, 66},
        {"", 0, 0},           {"", 0, 0},          {"", 0, 0},           {"mxfp4", 32, 17},
}};

// Bytes of one scalar of a fixed-size value type; 0 for string/array/unknown.
size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::kU8:
        case GgufType::kI8:
        case GgufType::kBool:
            return 1;
        case GgufType::kU16:
        case GgufType::kI16:
            return 2;
        case GgufType::kU32:
        case GgufType::kI32:
        case GgufType::kF32:
            return 4;
        case GgufType::kU64:
        case GgufType::kI64:
        case GgufType::kF64:
            return 8;
        case GgufType::kString:
        case GgufType::kArray:
            return 0;
    }
    return 0;
}

bool known_type(uint32_t t) {
    return t <= static_cast<uint32_t>(GgufType::kF64);
}

std::string read_string(ByteReader& r, const std::string& what) {
    const uint64_t n = r.u64(what + " length");
    if (n > r.remaining()) {
        throw Error(Errc::kTruncated, "truncated: " + what + " claims " + std::to_string(n) +
                                              " bytes but only " + std::to_string(r.remaining()) +
                                              " remain");
    }
    return r.str(static_cast<size_t>(n), what);
}

GgufValue read_value(ByteReader& r, GgufType type, const std::string& what, size_t depth);

// Decodes one fixed-size scalar into v (type already set).
void read_scalar(ByteReader& r, GgufValue& v, const std::string& what) {
    switch (v.type) {
        case GgufType::kU8:
            v.u = r.u8(what);
            break;
        case GgufType::kI8:
            v.i = r.read<int8_t>(what);
            break;
        case GgufType::kU16:
            v.u = r.u16(what);
            break;
        case GgufType::kI16:
            v.i = r.read<int16_t>(what);
            break;
        case GgufType::kU32:
            v.u = r.u32(what);
            break;
        case GgufType::kI32:
            v.i = r.i32(what);
            break;
        case GgufType::kF32:
            v.f = static_cast<double>(r.f32(what));
            break;
        case GgufType::kU64:
            v.u = r.u64(what);
            break;
        case GgufType::kI64:
            v.i = r.i64(what);
            break;
        case GgufType::kF64:
            v.f = r.f64(what);
            break;
        case GgufType::kBool: {
            const uint8_t b = r.u8(what);
            if (b > 1) {
                throw Error(Errc::kBadValue,
                            what + ": bool value " + std::to_string(b) + " is not 0 or 1");
            }
            v.u = b;
            break;
        }
        case GgufType::kString:
        case GgufType::kArray:
            break;  // not scalars; handled by read_value
    }
}

GgufValue read_array(ByteReader& r, const std::string& what, size_t depth) {
    if (depth >= kMaxArrayDepth) {
        throw Error(Errc::kBadValue,
                    what + ": arrays nested deeper than " + std::to_string(kMaxArrayDepth));
    }
    GgufValue v;
    v.type = GgufType::kArray;
    const uint32_t elem = r.u32(what + " element type");
    if (!known_type(elem)) {
        throw Error(Errc::kUnsupportedType,
                    what + ": unknown array element type " + std::to_string(elem));
    }
    v.elem = static_cast<GgufType>(elem);
    v.count = r.u64(what + " count");
    // Every element needs at least this many bytes: checking the count against what is left
    // bounds every allocation below by the file size.
    const size_t fixed = scalar_size(v.elem);
    const size_t min_elem = fixed != 0 ? fixed : (v.elem == GgufType::kString ? 8 : 12);
    if (v.count > r.remaining() / min_elem) {
        throw Error(Errc::kTruncated, "truncated: " + what + " claims " + std::to_string(v.count) +
                                              " elements but only " +
                                              std::to_string(r.remaining()) + " bytes remain");
    }
    const size_t n = static_cast<size_t>(v.count);
    if (fixed != 0) {
        v.raw = r.bytes(n * fixed, what);
        if (v.elem == GgufType::kBool) {
            for (size_t k = 0; k < n; ++k) {
                if (static_cast<uint8_t>(v.raw[k]) > 1) {
                    throw Error(Errc::kBadValue,
                                what + ": bool element " + std::to_string(k) + " is not 0 or 1");
                }
            }
        }
    } else if (v.elem == GgufType::kString) {
        v.strings.reserve(n);
        for (size_t k = 0; k < n; ++k)
            v.strings.push_back(read_string(r, what + "[" + std::to_string(k) + "]"));
    } else {
        v.items.reserve(n);
        for (size_t k = 0; k < n; ++k) {
            v.items.push_back(read_value(r, GgufType::kArray, what + "[" + std::to_string(k) + "]",
                                         depth + 1));
        }
    }
    return v;
}

GgufValue read_value(ByteReader& r, GgufType type, const std::string& what, size_t depth) {
    if (type == GgufType::kArray)
        return read_array(r, what, depth);
    GgufValue v;
    v.type = type;
    if (type == GgufType::kString) {
        v.str = read_string(r, what);
    } else {
        read_scalar(r, v, what);
    }
    return v;
}

uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}  // x < 2^63 here

GgufTensorInfo read_tensor_info(ByteReader& r, size_t index) {
    GgufTensorInfo t;
    t.name = read_string(r, "tensor " + std::to_string(index) + " name");
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = r.u32(what + " n_dims");
    if (n_dims == 0 || n_dims > kMaxDims) {
        throw Error(Errc::kBadValue,
                    what + ": " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    }
    t.n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t ne = r.u64(what + " dims");
        // Every element occupies some bytes, so no real tensor exceeds 2^60 elements; the
        // bound keeps the products below from overflowing.
        if (ne == 0 || ne > (uint64_t{1} << 60) / t.n_elements) {
            throw Error(Errc::kBadValue, what + ": dimension " + std::to_string(d) + " = " +
                                                 std::to_string(ne) +
                                                 " is zero or makes the tensor absurdly large");
        }
        t.n_elements *= ne;
        t.dims.push_back(ne);
    }
    t.type = r.u32(what + " type");
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (info == nullptr) {
        throw Error(Errc::kUnsupportedType, what + ": unknown ggml type " + std::to_string(t.type));
    }
    if (t.dims[0] % info->block_size != 0) {
        throw Error(Errc::kBadValue, what + ": row length " + std::to_string(t.dims[0]) +
                                             " is not a multiple of " +
                                             std::to_string(info->block_size) + " (" +
                                             std::string(info->name) + " block)");
    }
    t.n_bytes = t.n_elements / info->block_size * info->block_bytes;  // < 2^60 * 292 / 256 fits
    t.offset = r.u64(what + " offset");
    return t;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) noexcept {
    switch (t) {
        case GgufType::kU8:
            return "u8";
        case GgufType::kI8:
            return "i8";
        case GgufType::kU16:
            return "u16";
        case GgufType::kI16:
            return "i16";
        case GgufType::kU32:
            return "u32";
        case GgufType::kI32:
            return "i32";
        case GgufType::kF32:
            return "f32";
        case GgufType::kBool:
            return "bool";
        case GgufType::kString:
            return "string";
        case GgufType::kArray:
            return "array";
        case GgufType::kU64:
            return "u64";
        case GgufType::kI64:
            return "i64";
        case GgufType::kF64:
            return "f64";
    }
    return "?";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufType::kU8:
        case GgufType::kI8:
        case GgufType::kU16:
        case GgufType::kI16:
        case GgufType::kU32:
        case GgufType::kI32:
        case GgufType::kU64:
        case GgufType::kI64:
            return true;
        default:
            return false;
    }
}

bool GgufValue::is_float() const {
    return type == GgufType::kF32 || type == GgufType::kF64;
}

const GgmlTypeInfo* ggml_type_info(uint32_t type) noexcept {
    if (type >= kGgmlTypes.size() || kGgmlTypes[type].block_bytes == 0)
        return nullptr;
    return &kGgmlTypes[type];
}

std::string ggml_type_name(uint32_t type) {
    const GgmlTypeInfo* info = ggml_type_info(type);
    return info != nullptr ? std::string(info->name) : "type " + std::to_string(type);
}

const GgufValue* GgufFile::find(std::string_view key) const {
    for (const auto& kv : metadata) {
        if (kv.key == key)
            return &kv.value;
    }
    return nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    for (const auto& t : tensors) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

namespace {

[[noreturn]] void wrong_type(std::string_view key, const GgufValue& v, const char* want) {
    throw Error(Errc::kBadValue, "metadata key " + std::string(key) + " has type " +
                                         std::string(gguf_type_name(v.type)) + ", expected " +
                                         want);
}

}  // namespace

std::optional<std::string> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr)
        return std::nullopt;
    if (v->type != GgufType::kString)
        wrong_type(key, *v, "string");
    return v->str;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr)
        return std::nullopt;
    if (!v->is_integer())
        wrong_type(key, *v, "an integer");
    switch (v->type) {
        case GgufType::kI8:
        case GgufType::kI16:
        case GgufType::kI32:
        case GgufType::kI64:
            return v->i;
        default:
            break;
    }
    if (v->u > static_cast<uint64_t>(INT64_MAX)) {
        throw Error(Errc::kBadValue, "metadata key " + std::string(key) + " = " +
                                             std::to_string(v->u) + " is too large");
    }
    return static_cast<int64_t>(v->u);
}

std::optional<double> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr)
        return std::nullopt;
    if (!v->is_float())
        wrong_type(key, *v, "a float");
    return v->f;
}

std::optional<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr)
        return std::nullopt;
    if (v->type != GgufType::kBool)
        wrong_type(key, *v, "bool");
    return v->u != 0;
}

GgufFile parse_gguf(std::span<const std::byte> data) {
    ByteReader r(data);
    GgufFile f;
    if (data.size() < 4 || r.str(4, "magic") != "GGUF") {
        throw Error(Errc::kBadMagic, "not a GGUF file (no \"GGUF\" magic)");
    }
    f.version = r.u32("version");
    // GGUF v3 allows big-endian files; their version reads byte-swapped here.
    if (f.version > 0xffff && __builtin_bswap32(f.version) <= 3) {
        throw Error(Errc::kUnsupported, "big-endian GGUF files are not supported");
    }
    if (f.version == 1) {
        throw Error(
                Errc::kUnsupported,
                "GGUF version 1 is not supported (re-convert the model with a newer llama.cpp)");
    }
    if (f.version == 0 || f.version > 3) {
        throw Error(
                f.version > 3 ? Errc::kNewerVersion : Errc::kBadValue,
                "GGUF version " + std::to_string(f.version) + " is not supported (2 and 3 are)");
    }
    const uint64_t n_tensors = r.u64("tensor count");
    const uint64_t n_kv = r.u64("metadata count");
    // Minimal sizes: a key/value needs 8 (key length) + 4 (type) + 1 bytes, a tensor info
    // 8 + 4 + 8 + 4 + 8. Counts beyond what the file could hold are refused before any
    // allocation.
    if (n_kv > r.remaining() / 13) {
        throw Error(Errc::kTruncated, "truncated: " + std::to_string(n_kv) +
                                              " metadata entries cannot fit in " +
                                              std::to_string(r.remaining()) + " bytes");
    }
    if (n_tensors > r.remaining() / 32) {
        throw Error(Errc::kTruncated, "truncated: " + std::to_string(n_tensors) +
                                              " tensors cannot fit in " +
                                              std::to_string(r.remaining()) + " bytes");
    }

    std::unordered_set<std::string> keys;
    f.metadata.reserve(static_cast<size_t>(n_kv));
    for (uint64_t k = 0; k < n_kv; ++k) {
        GgufKeyValue kv;
        kv.key = read_string(r, "metadata key " + std::to_string(k));
        const uint32_t type = r.u32("type of " + kv.key);
        if (!known_type(type)) {
            throw Error(Errc::kUnsupportedType,
                        "metadata key " + kv.key + ": unknown value type " + std::to_string(type));
        }
        kv.value = read_value(r, static_cast<GgufType>(type), "metadata key " + kv.key, 0);
        if (!keys.insert(kv.key).second) {
            throw Error(Errc::kBadValue, "duplicate metadata key " + kv.key);
        }
        f.metadata.push_back(std::move(kv));
    }
    f.alignment = kDefaultAlignment;
    if (const GgufValue* a = f.find("general.alignment")) {
        if (a->type != GgufType::kU32)
            wrong_type("general.alignment", *a, "u32");
        if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
            throw Error(Errc::kBadValue,
                        "general.alignment " + std::to_string(a->u) + " is not a power of two");
        }
        f.alignment = a->u;
    }

    std::unordered_set<std::string> names;
    f.tensors.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t k = 0; k < n_tensors; ++k) {
        GgufTensorInfo t = read_tensor_info(r, static_cast<size_t>(k));
        if (!names.insert(t.name).second) {
            throw Error(Errc::kBadValue, "duplicate tensor name '" + t.name + "'");
        }
        f.tensors.push_back(std::move(t));
    }

    f.data_offset = align_up(r.pos(), f.alignment);
    // A vocabulary-only file (no tensors) may end before the padded data section.
    const uint64_t data_size = f.data_offset <= data.size() ? data.size() - f.data_offset : 0;
    if (!f.tensors.empty() && f.data_offset > data.size()) {
        throw Error(Errc::kTruncated, "truncated: the data section starts at " +
                                              std::to_string(f.data_offset) +
                                              ", past the end of the file (" +
                                              std::to_string(data.size()) + " bytes)");
    }
    for (auto& t : f.tensors) {
        if (t.offset % f.alignment != 0) {
            throw Error(Errc::kBadValue, "tensor '" + t.name + "': data offset " +
                                                 std::to_string(t.offset) +
                                                 " is not a multiple of the alignment " +
                                                 std::to_string(f.alignment));
        }
        if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
            throw Error(Errc::kOutOfBounds,
                        "tensor '" + t.name + "': data [" + std::to_string(t.offset) + ", +" +
                                std::to_string(t.n_bytes) + ") lies outside the " +
                                std::to_string(data_size) + "-byte data section");
        }
        t.data = data.subspan(static_cast<size_t>(f.data_offset + t.offset),
                              static_cast<size_t>(t.n_bytes));
    }
    return f;
}

}  // namespace mistral::convert
