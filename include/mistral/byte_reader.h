// Bounds-checked little-endian reader over a byte span. Every read checks the remaining length
// first and throws Error(kTruncated) naming `what`, so parsers built on it cannot over-read.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <mistral/error.h>

namespace mistral {

class ByteReader {
public:
    explicit ByteReader(std::span<const std::byte> data) : data_(data) {}

    size_t pos() const { return pos_; }
    size_t size() const { return data_.size(); }
    size_t remaining() const { return data_.size() - pos_; }
    bool at_end() const { return pos_ == data_.size(); }

    // Returns the next n bytes and advances. Throws kTruncated if fewer remain.
    std::span<const std::byte> bytes(size_t n, std::string_view what) {
        need(n, what);
        auto out = data_.subspan(pos_, n);
        pos_ += n;
        return out;
    }
    void skip(size_t n, std::string_view what) { bytes(n, what); }
    void seek(size_t pos, std::string_view what) {
        if (pos > data_.size()) {
            throw Error(Errc::kTruncated,
                        "truncated: " + std::string(what) + " ends past the end of the data");
        }
        pos_ = pos;
    }

    // Little-endian scalars (the host is checked to be little-endian at build time).
    template <typename T>
    T read(std::string_view what) {
        static_assert(std::is_trivially_copyable_v<T>);
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }
    uint8_t u8(std::string_view what) { return read<uint8_t>(what); }
    uint16_t u16(std::string_view what) { return read<uint16_t>(what); }
    uint32_t u32(std::string_view what) { return read<uint32_t>(what); }
    uint64_t u64(std::string_view what) { return read<uint64_t>(what); }
    int32_t i32(std::string_view what) { return read<int32_t>(what); }
    int64_t i64(std::string_view what) { return read<int64_t>(what); }
    float f32(std::string_view what) { return read<float>(what); }
    double f64(std::string_view what) { return read<double>(what); }

    // A string of `n` bytes (no terminator).
    std::string str(size_t n, std::string_view what) {
        auto b = bytes(n, what);
        return std::string(reinterpret_cast<const char*>(b.data()), b.size());
    }

private:
    void need(size_t n, std::string_view what) const {
        if (n > data_.size() - pos_) {
            throw Error(Errc::kTruncated, "truncated: " + std::string(what) + " needs " +
                                                  std::to_string(n) + " bytes at offset " +
                                                  std::to_string(pos_) + ", " +
                                                  std::to_string(data_.size() - pos_) + " left");
        }
    }

    std::span<const std::byte> data_;
    size_t pos_ = 0;
};

static_assert(std::endian::native == std::endian::little,
              "mistral.cpp assumes a little-endian host");

}  // namespace mistral
