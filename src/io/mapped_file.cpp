#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <mistral/error.h>
#include <mistral/model_file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mistral {

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
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_errno = errno;
    ::close(fd);  // the mapping keeps the file alive
    if (p == MAP_FAILED) {
        throw Error(Errc::kIo, path.string() + ": mmap failed: " + std::strerror(map_errno));
    }
    ::madvise(p, size, opts.sequential ? MADV_SEQUENTIAL : MADV_WILLNEED);
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
