// Zip parsing per PKWARE's APPNOTE (sections 4.3.7 local header, 4.3.12 central directory,
// 4.3.14-4.3.16 zip64 and end records, 4.5.3 zip64 extra field).
#include "zip_reader.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include <mistral/byte_reader.h>
#include <mistral/error.h>

namespace mistral::convert {

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;       // fixed part of the end record
constexpr size_t kLocatorSize = 20;   // zip64 end locator
constexpr size_t kCentralFixed = 46;  // fixed part of a central directory header
constexpr size_t kLocalFixed = 30;    // fixed part of a local header
constexpr uint16_t kZip64ExtraId = 0x0001;

// Offset of the end-of-central-directory record: the last signature whose comment length
// reaches exactly the end of the data (the comment may be up to 65535 bytes).
size_t find_end_record(std::span<const std::byte> d) {
    if (d.size() < kEndSize) {
        throw Error(Errc::kBadMagic, "not a zip archive (too short for an end record)");
    }
    const size_t lowest = d.size() - kEndSize > 65535 ? d.size() - kEndSize - 65535 : 0;
    for (size_t p = d.size() - kEndSize + 1; p-- > lowest;) {
        ByteReader r(d.subspan(p));
        if (r.u32("zip end signature") != kEndSig)
            continue;
        r.skip(16, "zip end record");
        const uint16_t comment_len = r.u16("zip comment length");
        if (p + kEndSize + comment_len == d.size())
            return p;
    }
    throw Error(Errc::kBadMagic, "not a zip archive (no end of central directory record)");
}

// Reads the zip64 extended information extra field, replacing the 32-bit values that were
// saturated at 0xFFFFFFFF (present in this fixed order, only when saturated).
void apply_zip64_extra(std::span<const std::byte> extra, ZipEntry& e, bool size_sat, bool csize_sat,
                       bool offset_sat) {
    ByteReader r(extra);
    while (r.remaining() >= 4) {
        const uint16_t id = r.u16("zip extra id");
        const uint16_t len = r.u16("zip extra length");
        const auto body = r.bytes(len, "zip extra field");
        if (id != kZip64ExtraId)
            continue;
        ByteReader z(body);
        if (size_sat)
            e.size = z.u64("zip64 size");
        if (csize_sat)
            e.compressed_size = z.u64("zip64 compressed size");
        if (offset_sat)
            e.local_offset = z.u64("zip64 local header offset");
        return;
    }
    if (size_sat || csize_sat || offset_sat) {
        throw Error(Errc::kBadValue,
                    "zip entry " + e.name + ": saturated size without a zip64 extra field");
    }
}

// Slicing-by-8 tables: kCrcTables[0] is the byte-at-a-time table; kCrcTables[k][b] is the CRC of
// byte b followed by k zero bytes, so eight bytes are folded with eight lookups.
using CrcTables = std::array<std::array<uint32_t, 256>, 8>;
constexpr CrcTables make_crc_tables() {
    CrcTables t{};
    for (uint32_t b = 0; b < 256; ++b) {
        uint32_t c = b;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
        t[0][b] = c;
    }
    for (size_t k = 1; k < 8; ++k) {
        for (uint32_t b = 0; b < 256; ++b)
            t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
    }
    return t;
}
constexpr CrcTables kCrcTables = make_crc_tables();

}  // namespace

uint32_t crc32(std::span<const std::byte> data, uint32_t crc) {
    const auto& t = kCrcTables;
    uint32_t c = ~crc;
    const auto* p = reinterpret_cast<const uint8_t*>(data.data());
    size_t n = data.size();
    for (; n >= 8; n -= 8, p += 8) {
        const uint32_t lo = c ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                                 uint32_t{p[3]} << 24);
        c = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
            t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; n > 0; --n, ++p)
        c = (c >> 8) ^ t[0][(c ^ *p) & 0xFF];
    return ~c;
}

void check_crc(const ZipEntry& e, std::span<const std::byte> data) {
    const uint32_t got = crc32(data);
    if (got != e.crc32) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "CRC-32 of the data is %08x, the directory says %08x", got,
                      e.crc32);
        throw Error(Errc::kBadValue, "zip entry " + e.name + ": " + buf + " (corrupt archive)");
    }
}

ZipArchive ZipArchive::parse(std::span<const std::byte> d) {
    const size_t end_pos = find_end_record(d);
    ByteReader r(d);
    r.seek(end_pos + 4, "zip end record");
    const uint16_t disk = r.u16("zip disk number");
    const uint16_t cd_disk = r.u16("zip central directory disk");
    uint64_t n_on_disk = r.u16("zip entries on disk");
    uint64_t n_total = r.u16("zip entries");
    uint64_t cd_size = r.u32("zip central directory size");
    uint64_t cd_offset = r.u32("zip central directory offset");

    const bool zip64 = n_total == 0xFFFF || n_on_disk == 0xFFFF || cd_size == 0xFFFFFFFF ||
                       cd_offset == 0xFFFFFFFF;
    // torch writes the zip64 records even for small archives; use them whenever present.
    if (end_pos >= kLocatorSize) {
        ByteReader loc(d.subspan(end_pos - kLocatorSize, kLocatorSize));
        if (loc.u32("zip64 locator signature") == kZip64LocatorSig) {
            loc.skip(4, "zip64 locator disk");
            const uint64_t rec = loc.u64("zip64 end record offset");
            if (loc.u32("zip64 disk count") > 1)
                throw Error(Errc::kUnsupported, "multi-disk zip archives are not supported");
            if (rec > d.size())
                throw Error(Errc::kOutOfBounds, "zip64 end record offset is past the end");
            ByteReader z(d);
            z.seek(static_cast<size_t>(rec), "zip64 end record");
            if (z.u32("zip64 end signature") != kZip64EndSig) {
                throw Error(Errc::kBadMagic, "zip64 end record signature missing");
            }
            z.skip(8 + 2 + 2, "zip64 end record");  // record size, versions
            const uint32_t disk64 = z.u32("zip64 disk number");
            const uint32_t cd_disk64 = z.u32("zip64 central directory disk");
            if (disk64 != 0 || cd_disk64 != 0) {
                throw Error(Errc::kUnsupported, "multi-disk zip archives are not supported");
            }
            n_on_disk = z.u64("zip64 entries on disk");
            n_total = z.u64("zip64 entries");
            cd_size = z.u64("zip64 central directory size");
            cd_offset = z.u64("zip64 central directory offset");
        } else if (zip64) {
            throw Error(Errc::kBadValue,
                        "zip end record is saturated but there is no zip64 locator");
        }
    }
    if (disk != 0 || cd_disk != 0 || n_on_disk != n_total) {
        throw Error(Errc::kUnsupported, "multi-disk zip archives are not supported");
    }
    if (cd_offset > d.size() || cd_size > d.size() - cd_offset) {
        throw Error(Errc::kOutOfBounds, "zip central directory lies outside the file");
    }
    // Each central header takes at least 46 bytes: bounds the count before any allocation.
    if (n_total > cd_size / kCentralFixed) {
        throw Error(Errc::kBadValue, "zip central directory is too small for " +
                                             std::to_string(n_total) + " entries");
    }

    ZipArchive out;
    out.data_ = d;
    out.cd_offset_ = cd_offset;
    out.entries_.reserve(static_cast<size_t>(n_total));
    ByteReader c(d.subspan(static_cast<size_t>(cd_offset), static_cast<size_t>(cd_size)));
    for (uint64_t k = 0; k < n_total; ++k) {
        if (c.u32("zip central header signature") != kCentralSig) {
            throw Error(Errc::kBadMagic, "zip central directory entry " + std::to_string(k) +
                                                 " has a bad signature");
        }
        ZipEntry e;
        c.skip(4, "zip central header versions");
        e.flags = c.u16("zip flags");
        e.method = c.u16("zip method");
        c.skip(4, "zip time and date");
        e.crc32 = c.u32("zip crc32");
        const uint32_t csize = c.u32("zip compressed size");
        const uint32_t size = c.u32("zip size");
        const uint16_t name_len = c.u16("zip name length");
        const uint16_t extra_len = c.u16("zip extra length");
        const uint16_t comment_len = c.u16("zip comment length");
        c.skip(2 + 2 + 4, "zip disk and attributes");
        const uint32_t local = c.u32("zip local header offset");
        e.name = c.str(name_len, "zip entry name");
        const auto extra = c.bytes(extra_len, "zip extra field");
        c.skip(comment_len, "zip entry comment");
        e.compressed_size = csize;
        e.size = size;
        e.local_offset = local;
        try {
            apply_zip64_extra(extra, e, size == 0xFFFFFFFF, csize == 0xFFFFFFFF,
                              local == 0xFFFFFFFF);
        } catch (const Error& err) {
            throw with_context(err, "zip entry " + e.name);
        }
        out.entries_.push_back(std::move(e));
    }
    return out;
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
    for (const auto& e : entries_) {
        if (e.name == name)
            return &e;
    }
    return nullptr;
}

std::span<const std::byte> ZipArchive::entry_data(const ZipEntry& e) const {
    const std::string where = "zip entry " + e.name;
    if (e.flags & 1)
        throw Error(Errc::kUnsupported, where + " is encrypted");
    if (e.method != 0) {
        throw Error(Errc::kUnsupported,
                    where + " is compressed (method " + std::to_string(e.method) +
                            "); only stored (uncompressed) entries are supported");
    }
    if (e.compressed_size != e.size) {
        throw Error(Errc::kBadValue,
                    where + ": stored entry with different compressed and plain sizes");
    }
    if (e.local_offset > cd_offset_)
        throw Error(Errc::kOutOfBounds, where + ": local header is past the end");
    // Data lives between its local header and the central directory.
    ByteReader r(data_.subspan(0, static_cast<size_t>(cd_offset_)));
    r.seek(static_cast<size_t>(e.local_offset), where);
    if (r.u32("zip local header signature") != kLocalSig) {
        throw Error(Errc::kBadMagic, where + ": bad local header signature");
    }
    r.skip(kLocalFixed - 4 - 4, "zip local header");
    const uint16_t name_len = r.u16("zip local name length");
    const uint16_t extra_len = r.u16("zip local extra length");
    if (r.str(name_len, "zip local name") != e.name) {
        throw Error(Errc::kBadValue, where + ": local header names a different file");
    }
    r.skip(extra_len, "zip local extra field");
    if (e.size > r.remaining()) {
        throw Error(Errc::kOutOfBounds,
                    where + ": " + std::to_string(e.size) +
                            " bytes of data do not fit before the central directory");
    }
    return r.bytes(static_cast<size_t>(e.size), where);
}

}  // namespace mistral::convert
