// A tiny GGUF writer for tests: builds synthetic (and deliberately broken) files byte by byte,
// following the GGUF specification, independent of the parser under test.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace mistral::test {

class GgufBuilder {
public:
    std::vector<std::byte> out;

    void raw(const void* p, size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    }
    void u8(uint8_t v) { raw(&v, 1); }
    void u32(uint32_t v) { raw(&v, 4); }
    void i32(int32_t v) { raw(&v, 4); }
    void u64(uint64_t v) { raw(&v, 8); }
    void f32(float v) { raw(&v, 4); }
    void str(const std::string& s) {
        u64(s.size());
        raw(s.data(), s.size());
    }
    // Header: magic, version, tensor count, kv count.
    void header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
        raw("GGUF", 4);
        u32(version);
        u64(n_tensors);
        u64(n_kv);
    }
    void kv_string(const std::string& key, const std::string& v) {
        str(key);
        u32(8);
        str(v);
    }
    void kv_u32(const std::string& key, uint32_t v) {
        str(key);
        u32(4);
        u32(v);
    }
    void kv_f32(const std::string& key, float v) {
        str(key);
        u32(6);
        f32(v);
    }
    void kv_bool(const std::string& key, bool v) {
        str(key);
        u32(7);
        u8(v ? 1 : 0);
    }
    void kv_strings(const std::string& key, const std::vector<std::string>& v) {
        str(key);
        u32(9);
        u32(8);
        u64(v.size());
        for (const auto& s : v)
            str(s);
    }
    void kv_f32s(const std::string& key, const std::vector<float>& v) {
        str(key);
        u32(9);
        u32(6);
        u64(v.size());
        for (float x : v)
            f32(x);
    }
    void kv_i32s(const std::string& key, const std::vector<int32_t>& v) {
        str(key);
        u32(9);
        u32(5);
        u64(v.size());
        for (int32_t x : v)
            i32(x);
    }
    // Tensor info: dims innermost first.
    void tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                uint64_t offset) {
        str(name);
        u32(static_cast<uint32_t>(dims.size()));
        for (auto d : dims)
            u64(d);
        u32(type);
        u64(offset);
    }
    void pad_to(size_t alignment) {
        while (out.size() % alignment != 0)
            u8(0);
    }
    void zeros(size_t n) { out.insert(out.end(), n, std::byte{0}); }
};

}  // namespace mistral::test
