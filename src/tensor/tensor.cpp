#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <mistral/tensor.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mistral {

std::string shape_string(const TensorView& t) {
    if (t.ndim == 1) {
        return "[" + std::to_string(t.cols) + "]";
    }
    return "[" + std::to_string(t.rows) + ", " + std::to_string(t.cols) + "]";
}

namespace {

// Row `row` of an interleaved matrix, block by block through the plain block's dequantizer.
template <class Block>
void x16_row_to_f32(const TensorView& t, size_t row, float* out,
                    Block (*block)(const void*, size_t, size_t, size_t) noexcept,
                    void (*dequantize)(const Block*, float*, size_t) noexcept) {
    const size_t nb = t.cols / kQBlock;
    for (size_t b = 0; b < nb; ++b) {
        const Block blk = block(t.data, nb, row, b);
        dequantize(&blk, out + b * kQBlock, kQBlock);
    }
}

}  // namespace

void tensor_row_to_f32(const TensorView& t, size_t row, float* out) noexcept {
    if (t.type == DType::kQ4_0x16) {
        x16_row_to_f32<BlockQ4_0>(t, row, out, q4_0x16_block, dequantize_row_q4_0);
    } else if (t.type == DType::kQ8_0x16) {
        x16_row_to_f32<BlockQ8_0>(t, row, out, q8_0x16_block, dequantize_row_q8_0);
    } else if (t.type == DType::kF16x16) {
        for (size_t k = 0; k < t.cols; ++k)
            out[k] = f16_to_f32(f16x16_value(t.data, t.cols, row, k));
    } else {
        row_to_f32(t.type, t.row(row), out, t.cols);
    }
}

Buffer::Buffer(size_t bytes, bool huge_pages) : size_(bytes) {
    if (bytes == 0) {
        return;
    }
    constexpr size_t kMapAtLeast = size_t{1} << 20;
    if (bytes >= kMapAtLeast) {
        void* p =
                ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::bad_alloc();
        }
        // Transparent huge pages where the system allows them on request (fewer TLB misses
        // for the scratch that every matmul streams through), and explicitly none otherwise (a
        // system whose THP mode is "always" would give them anyway).
        ::madvise(p, bytes, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        ptr_ = std::unique_ptr<std::byte, Free>(static_cast<std::byte*>(p), Free{bytes});
        return;
    }
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    std::memset(p, 0, rounded);
    ptr_.reset(static_cast<std::byte*>(p));
}

size_t Buffer::resident_bytes() const {
    const size_t mapped = ptr_.get_deleter().mapped;
    if (mapped == 0)
        return size_;
    const long page_size = ::sysconf(_SC_PAGESIZE);
    if (page_size <= 0)
        return size_;
    const size_t page = static_cast<size_t>(page_size);
    std::vector<unsigned char> in_core((mapped + page - 1) / page);
    if (::mincore(ptr_.get(), mapped, in_core.data()) != 0)
        return size_;  // not known: count it all
    size_t pages = 0;
    for (const unsigned char c : in_core)
        pages += c & 1u;
    return std::min(size_, pages * page);
}

void Buffer::Free::operator()(std::byte* p) const noexcept {
    if (mapped > 0)
        ::munmap(p, mapped);
    else
        std::free(p);
}

}  // namespace mistral
