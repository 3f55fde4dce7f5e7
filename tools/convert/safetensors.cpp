// safetensors header parser: every size and offset is checked against the file before use.
#include "safetensors.h"

#include <string_view>

#include <mistral/byte_reader.h>
#include <mistral/error.h>
#include <mistral/json.h>

namespace mistral::convert {

namespace {

// The dtype names of the safetensors specification and their element sizes.
struct DtypeSize {
    std::string_view name;
    size_t bytes;
};
constexpr DtypeSize kDtypes[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
        {"U64", 8}, {"I32", 4}, {"U32", 4},  {"I16", 2},     {"U16", 2},
        {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

// a * b, throwing kBadValue on 64-bit overflow.
uint64_t mul_checked(uint64_t a, uint64_t b, const std::string& what) {
    if (a != 0 && b > UINT64_MAX / a)
        throw Error(Errc::kBadValue, what + ": size overflows 64 bits");
    return a * b;
}

uint64_t read_u64_field(const Json& v, const std::string& what) {
    if (!v.is_int() || v.as_int() < 0) {
        throw Error(Errc::kBadValue, what + " must be a non-negative integer");
    }
    return static_cast<uint64_t>(v.as_int());
}

SafetensorsEntry parse_entry(const std::string& name, const Json& info, uint64_t data_size) {
    const std::string where = "tensor " + name;
    if (!info.is_object())
        throw Error(Errc::kBadValue, where + ": header entry is not an object");
    const Json* dtype = info.find("dtype");
    const Json* shape = info.find("shape");
    const Json* offsets = info.find("data_offsets");
    if (dtype == nullptr || !dtype->is_string()) {
        throw Error(Errc::kBadValue, where + ": missing or non-string \"dtype\"");
    }
    if (shape == nullptr || !shape->is_array()) {
        throw Error(Errc::kBadValue, where + ": missing or non-array \"shape\"");
    }
    if (offsets == nullptr || !offsets->is_array() || offsets->size() != 2) {
        throw Error(Errc::kBadValue, where + ": \"data_offsets\" must be [begin, end]");
    }
    SafetensorsEntry e;
    e.name = name;
    e.dtype = dtype->as_string();
    const size_t elem = safetensors_dtype_size(e.dtype);
    if (elem == 0) {
        throw Error(Errc::kUnsupportedType, where + ": unknown dtype \"" + e.dtype + "\"");
    }
    uint64_t numel = 1;
    for (const Json& d : shape->as_array()) {
        const uint64_t n = read_u64_field(d, where + ": shape entry");
        e.shape.push_back(n);
        numel = mul_checked(numel, n, where);
    }
    const uint64_t nbytes = mul_checked(numel, elem, where);
    e.begin = read_u64_field(offsets->as_array()[0], where + ": data_offsets[0]");
    e.end = read_u64_field(offsets->as_array()[1], where + ": data_offsets[1]");
    if (e.begin > e.end || e.end > data_size) {
        throw Error(Errc::kOutOfBounds, where + ": data_offsets [" + std::to_string(e.begin) +
                                                ", " + std::to_string(e.end) + "] outside the " +
                                                std::to_string(data_size) + "-byte data section");
    }
    if (e.end - e.begin != nbytes) {
        throw Error(Errc::kBadValue, where + ": data_offsets span " +
                                             std::to_string(e.end - e.begin) +
                                             " bytes, the shape needs " + std::to_string(nbytes));
    }
    return e;
}

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype) {
    for (const auto& d : kDtypes) {
        if (d.name == dtype)
            return d.bytes;
    }
    return 0;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
    for (const auto& t : tensors) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

SafetensorsFile parse_safetensors(std::span<const std::byte> file) {
    ByteReader r(file);
    const uint64_t header_len = r.u64("safetensors header length");
    if (header_len > kMaxSafetensorsHeader) {
        throw Error(Errc::kBadValue, "safetensors header length " + std::to_string(header_len) +
                                             " is larger than the 100 MB limit");
    }
    const auto header = r.bytes(static_cast<size_t>(header_len), "safetensors header");
    SafetensorsFile out;
    out.data_start = r.pos();
    const uint64_t data_size = r.remaining();

    Json doc;
    try {
        doc = Json::parse(
                std::string_view(reinterpret_cast<const char*>(header.data()), header.size()));
    } catch (const Error& e) {
        throw with_context(e, "safetensors header");
    }
    if (!doc.is_object())
        throw Error(Errc::kBadValue, "safetensors header is not a JSON object");
    for (const auto& [name, info] : doc.as_object()) {
        if (name == "__metadata__") {
            if (!info.is_object())
                throw Error(Errc::kBadValue, "safetensors __metadata__ is not an object");
            for (const auto& [k, v] : info.as_object()) {
                if (!v.is_string()) {
                    throw Error(Errc::kBadValue,
                                "safetensors __metadata__ value '" + k + "' is not a string");
                }
                out.metadata[k] = v.as_string();
            }
            continue;
        }
        SafetensorsEntry e = parse_entry(name, info, data_size);
        e.data = file.subspan(out.data_start + static_cast<size_t>(e.begin),
                              static_cast<size_t>(e.end - e.begin));
        out.tensors.push_back(std::move(e));
    }
    return out;
}

}  // namespace mistral::convert
