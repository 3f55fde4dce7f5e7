#include <cstdlib>
#include <cstring>
#include <new>

#include <mistral/tensor.h>
#include <sys/mman.h>

namespace mistral {

std::string shape_string(const TensorView& t) {
    if (t.ndim == 1) {
        return "[" + std::to_string(t.cols) + "]";
    }
    return "[" + std::to_string(t.rows) + ", " + std::to_string(t.cols) + "]";
}

Buffer::Buffer(size_t bytes) : size_(bytes) {
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
        // Transparent huge pages where the system allows them on request: attention walks
        // the KV cache with a 4 KiB stride (one row per position), a TLB miss per row otherwise.
        ::madvise(p, bytes, MADV_HUGEPAGE);
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

void Buffer::Free::operator()(std::byte* p) const noexcept {
    if (mapped > 0)
        ::munmap(p, mapped);
    else
        std::free(p);
}

}  // namespace mistral
