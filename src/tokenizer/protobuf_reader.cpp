// Protobuf wire format (https://protobuf.dev/programming-guides/encoding/): each field is a
// varint key (field_number << 3 | wire_type) followed by its payload.
#include "tokenizer/protobuf_reader.h"

#include <bit>
#include <cstring>

#include <mistral/error.h>

namespace mistral::pb {

namespace {

[[noreturn]] void wrong_wire(std::string_view what, const char* expected) {
    throw Error(Errc::kBadValue, std::string(what) + ": expected a " + expected + " field");
}

}  // namespace

int32_t Field::as_int32(std::string_view what) const {
    if (wire != WireType::kVarint)
        wrong_wire(what, "varint");
    // Negative int32 values are sign-extended to 64 bits on the wire; keep the low 32 bits.
    return static_cast<int32_t>(static_cast<uint32_t>(varint));
}

bool Field::as_bool(std::string_view what) const {
    if (wire != WireType::kVarint)
        wrong_wire(what, "varint");
    return varint != 0;
}

float Field::as_float(std::string_view what) const {
    if (wire != WireType::kFixed32)
        wrong_wire(what, "32-bit");
    return std::bit_cast<float>(fixed32);
}

std::string Field::as_string(std::string_view what) const {
    if (wire != WireType::kLen)
        wrong_wire(what, "length-delimited");
    return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::span<const std::byte> Field::as_message(std::string_view what) const {
    if (wire != WireType::kLen)
        wrong_wire(what, "length-delimited");
    return bytes;
}

Reader::Reader(std::span<const std::byte> message, std::string what)
    : in_(message), what_(std::move(what)) {}

uint64_t Reader::read_varint() {
    uint64_t v = 0;
    // At most 10 bytes encode 64 bits; the 10th may only carry the top bit.
    for (int shift = 0; shift < 70; shift += 7) {
        const uint8_t b = in_.u8(what_ + " varint");
        if (shift == 63 && b > 1)
            break;
        v |= static_cast<uint64_t>(b & 0x7F) << shift;
        if ((b & 0x80) == 0)
            return v;
    }
    throw Error(Errc::kBadValue,
                what_ + ": malformed varint ending at offset " + std::to_string(in_.pos()));
}

bool Reader::next(Field& f) {
    if (in_.at_end())
        return false;
    const uint64_t key = read_varint();
    const uint64_t number = key >> 3;
    if (number == 0 || number > 0x1FFFFFFF) {
        throw Error(Errc::kBadValue, what_ + ": invalid field number " + std::to_string(number));
    }
    f = Field{};
    f.number = static_cast<uint32_t>(number);
    switch (key & 7) {
        case 0:
            f.wire = WireType::kVarint;
            f.varint = read_varint();
            break;
        case 1:
            f.wire = WireType::kFixed64;
            f.fixed64 = in_.u64(what_ + " fixed64 field");
            break;
        case 2: {
            f.wire = WireType::kLen;
            const uint64_t n = read_varint();
            if (n > in_.remaining()) {
                throw Error(Errc::kTruncated, what_ + ": field " + std::to_string(number) +
                                                      " needs " + std::to_string(n) + " bytes, " +
                                                      std::to_string(in_.remaining()) + " left");
            }
            f.bytes = in_.bytes(static_cast<size_t>(n), what_);
            break;
        }
        case 5:
            f.wire = WireType::kFixed32;
            f.fixed32 = in_.u32(what_ + " fixed32 field");
            break;
        default:
            // 3/4 are the deprecated groups, 6/7 do not exist; ModelProto uses neither.
            throw Error(Errc::kUnsupported, what_ + ": unsupported wire type " +
                                                    std::to_string(key & 7) + " in field " +
                                                    std::to_string(number));
    }
    return true;
}

}  // namespace mistral::pb
