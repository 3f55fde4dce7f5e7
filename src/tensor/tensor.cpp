#include <cstdlib>
#include <cstring>
#include <new>

#include <mistral/tensor.h>

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
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded);
    if (p == nullptr) {
        throw std::bad_alloc();
    }
    std::memset(p, 0, rounded);
    ptr_.reset(static_cast<std::byte*>(p));
}

void Buffer::Free::operator()(std::byte* p) const noexcept {
    std::free(p);
}

}  // namespace mistral
