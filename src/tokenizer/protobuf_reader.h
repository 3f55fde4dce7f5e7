// A minimal protobuf wire-format reader: enough for sentencepiece's ModelProto (proto2,
// varints, 32-bit floats, length-delimited strings and messages). Built on ByteReader, so a
// truncated or corrupt message throws mistral::Error instead of over-reading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <mistral/byte_reader.h>

namespace mistral::pb {

enum class WireType : uint8_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

// One field of a message. Only the member matching `wire` is meaningful.
struct Field {
    uint32_t number = 0;
    WireType wire = WireType::kVarint;
    uint64_t varint = 0;               // kVarint
    uint32_t fixed32 = 0;              // kFixed32
    uint64_t fixed64 = 0;              // kFixed64
    std::span<const std::byte> bytes;  // kLen (a view into the message)

    // Typed accessors; each throws Error(kBadValue) naming `what` if the wire type is wrong.
    int32_t as_int32(std::string_view what) const;  // int32/enum: two's complement truncation
    bool as_bool(std::string_view what) const;
    float as_float(std::string_view what) const;
    std::string as_string(std::string_view what) const;
    std::span<const std::byte> as_message(std::string_view what) const;
};

// Iterates over the fields of one message, in wire order (repeated fields appear repeatedly).
class Reader {
public:
    // `what` names the message in error messages, e.g. "tokenizer.model: trainer_spec".
    Reader(std::span<const std::byte> message, std::string what);
    // Reads the next field into `f`; returns false at the end of the message.
    // Throws Error(kTruncated / kBadValue / kUnsupported) on malformed input.
    bool next(Field& f);

private:
    uint64_t read_varint();

    ByteReader in_;
    std::string what_;
};

}  // namespace mistral::pb
