#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <mistral/error.h>
#include <mistral/model_file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mistral {

namespace {

constexpr size_t kHugeAlign = size_t{2} << 20;

// Maps the whole file read-only at a 2 MiB-aligned address when it is large: where the page
// cache holds the file in 2 MiB folios (ext4 and XFS on recent kernels), the kernel can then map
// them with one page-table entry each instead of 512, and streaming a 4 GB model per token stops
// missing the TLB every 4 KiB. Falls back to a plain mapping.
void* map_aligned(int fd, size_t size) {
    if (size >= kHugeAlign) {
        const size_t span = size + kHugeAlign;
        void* area = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                            -1, 0);
        if (area != MAP_FAILED) {
            const auto base = reinterpret_cast<uintptr_t>(area);
            const uintptr_t at = (base + kHugeAlign - 1) & ~(uintptr_t{kHugeAlign} - 1);
            void* p = ::mmap(reinterpret_cast<void*>(at), size, PROT_READ, MAP_PRIVATE | MAP_FIXED,
                             fd, 0);
            if (p != MAP_FAILED) {
                const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
                const uintptr_t end = (at + size + page - 1) / page * page;
                if (at > base)
                    ::munmap(area, at - base);
                if (base + span > end)
                    ::munmap(reinterpret_cast<void*>(end), base + span - end);
                return p;
            }
            ::munmap(area, span);
        }
    }
    return ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
}

}  // namespace

MappedFile MappedFile::open(const std::filesystem::path& path, Options opts) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw Error(Errc::kIo, path.string() + ": cannot open: " + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw Error(Errc::kIo, path.string() + ": cannot stat: " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(Errc::kIo, path.string() + ": not a regular file");
    }
    if (st.st_size == 0) {
        ::close(fd);
        throw Error(Errc::kTruncated, path.string() + ": empty file");
    }
    const size_t size = static_cast<size_t>(st.st_size);
    void* p = map_aligned(fd, size);
    const int map_errno = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (p == MAP_FAILED) {
        throw Error(Errc::kIo, path.string() + ": mmap failed: " + std::strerror(map_errno));
    }
    ::madvise(p, size, opts.sequential ? MADV_SEQUENTIAL : MADV_WILLNEED);
    if (size >= kHugeAlign)
        ::madvise(p, size, MADV_HUGEPAGE);  // a hint; harmless where unsupported
    MappedFile m;
    m.data_ = static_cast<const std::byte*>(p);
    m.size_ = size;
    m.path_ = path;
    if (opts.mlock) {
        m.locked_ = ::mlock(p, size) == 0;
    }
    return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      locked_(std::exchange(o.locked_, false)),
      path_(std::move(o.path_)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        this->~MappedFile();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        locked_ = std::exchange(o.locked_, false);
        path_ = std::move(o.path_);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) {
        if (locked_)
            ::munlock(const_cast<std::byte*>(data_), size_);
        ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = nullptr;
    }
}

}  // namespace mistral
