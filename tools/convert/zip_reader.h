// A minimal read-only zip reader for torch.save archives: central directory (with zip64),
// local headers, STORED entries only. Works over a byte span (an mmap), copies nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mistral::convert {

struct ZipEntry {
    std::string name;
    uint16_t method = 0;  // 0 = stored; anything else is refused by entry_data()
    uint16_t flags = 0;   // general purpose bit flags (bit 0: encrypted)
    uint32_t crc32 = 0;
    uint64_t compressed_size = 0;
    uint64_t size = 0;          // uncompressed size
    uint64_t local_offset = 0;  // of the local file header
};

// CRC-32 as zip computes it (ISO-HDLC: reflected polynomial 0xEDB88320, initial and final value
// 0xFFFFFFFF). Pass the previous result as `crc` to continue over more bytes.
uint32_t crc32(std::span<const std::byte> data, uint32_t crc = 0);

// Throws Error(kBadValue) "zip entry <name>: CRC-32 ... (corrupt archive)" unless `data` (the
// entry's bytes, as entry_data gave them) has the CRC-32 the central directory records.
void check_crc(const ZipEntry& e, std::span<const std::byte> data);

class ZipArchive {
public:
    // Parses the end-of-central-directory record (zip64 when present) and the central
    // directory. Throws mistral::Error: kBadMagic (not a zip), kTruncated / kOutOfBounds
    // (records outside the span), kUnsupported (multi-disk). Never reads outside `data`.
    static ZipArchive parse(std::span<const std::byte> data);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    // Returns nullptr if absent. O(n).
    const ZipEntry* find(const std::string& name) const;
    // The stored bytes of an entry, after validating its local header. Throws kUnsupported for
    // compressed or encrypted entries, kBadMagic / kOutOfBounds for a bad local header.
    std::span<const std::byte> entry_data(const ZipEntry& e) const;

private:
    std::span<const std::byte> data_;
    uint64_t cd_offset_ = 0;  // entries' data must end before the central directory
    std::vector<ZipEntry> entries_;
};

}  // namespace mistral::convert
