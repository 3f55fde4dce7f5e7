// The zip reader, on archives assembled byte by byte here from PKWARE's APPNOTE layouts, in
// the shape torch.save writes them (data-descriptor flag with zero sizes in the local header,
// zip64 end records, 64-byte aligned data via a padding extra field).
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <mistral/error.h>

#include "test_util.h"
#include "zip_reader.h"

namespace mistral::convert {
namespace {

using test::error_of;

struct In {
    std::string name;
    std::string data;
    uint16_t method = 0;
    bool zip64_extra =
            false;  // saturate sizes/offset in the central header, give them in an extra field
};

class Builder {
public:
    void u16(uint16_t v) { put(&v, 2); }
    void u32(uint32_t v) { put(&v, 4); }
    void u64(uint64_t v) { put(&v, 8); }
    void str(const std::string& s) { put(s.data(), s.size()); }
    void put(const void* p, size_t n) {
        const auto* b = static_cast<const std::byte*>(p);
        out.insert(out.end(), b, b + n);
    }
    std::vector<std::byte> out;
};

// Writes a zip of `entries`; `zip64_end` adds the zip64 end record + locator (as torch does).
std::vector<std::byte> make_zip(const std::vector<In>& entries, bool zip64_end) {
    Builder b;
    std::vector<uint64_t> offsets;
    for (const In& e : entries) {
        offsets.push_back(b.out.size());
        b.u32(0x04034b50);
        b.u16(20);
        b.u16(0x0808);  // data descriptor + UTF-8 names: sizes in the local header are zero
        b.u16(e.method);
        b.u16(0);
        b.u16(0);
        b.u32(0);  // crc
        b.u32(0);
        b.u32(0);
        b.u16(static_cast<uint16_t>(e.name.size()));
        // Pad so data starts at a multiple of 64, like torch's "FB" extra field.
        const size_t here = b.out.size() + 2 + e.name.size() + 4;
        const uint16_t pad = static_cast<uint16_t>((64 - here % 64) % 64);
        b.u16(static_cast<uint16_t>(4 + pad));
        b.str(e.name);
        b.u16(0x4246);
        b.u16(pad);
        b.str(std::string(pad, 'Z'));
        b.str(e.data);
        b.u32(0x08074b50);  // data descriptor
        b.u32(0);
        b.u32(static_cast<uint32_t>(e.data.size()));
        b.u32(static_cast<uint32_t>(e.data.size()));
    }
    const uint64_t cd_offset = b.out.size();
    for (size_t k = 0; k < entries.size(); ++k) {
        const In& e = entries[k];
        b.u32(0x02014b50);
        b.u16(0x031e);
        b.u16(45);
        b.u16(0x0808);
        b.u16(e.method);
        b.u32(0);  // time, date
        b.u32(0);  // crc
        const uint32_t sz = e.zip64_extra ? 0xFFFFFFFF : static_cast<uint32_t>(e.data.size());
        b.u32(sz);
        b.u32(sz);
        b.u16(static_cast<uint16_t>(e.name.size()));
        b.u16(e.zip64_extra ? 4 + 24 : 0);
        b.u16(0);
        b.u16(0);
        b.u16(0);
        b.u32(0);
        b.u32(e.zip64_extra ? 0xFFFFFFFF : static_cast<uint32_t>(offsets[k]));
        b.str(e.name);
        if (e.zip64_extra) {
            b.u16(0x0001);
            b.u16(24);
            b.u64(e.data.size());
            b.u64(e.data.size());
            b.u64(offsets[k]);
        }
    }
    const uint64_t cd_size = b.out.size() - cd_offset;
    if (zip64_end) {
        const uint64_t rec = b.out.size();
        b.u32(0x06064b50);
        b.u64(44);
        b.u16(0x031e);
        b.u16(45);
        b.u32(0);
        b.u32(0);
        b.u64(entries.size());
        b.u64(entries.size());
        b.u64(cd_size);
        b.u64(cd_offset);
        b.u32(0x07064b50);
        b.u32(0);
        b.u64(rec);
        b.u32(1);
    }
    b.u32(0x06054b50);
    b.u16(0);
    b.u16(0);
    b.u16(zip64_end ? 0xFFFF : static_cast<uint16_t>(entries.size()));
    b.u16(zip64_end ? 0xFFFF : static_cast<uint16_t>(entries.size()));
    b.u32(zip64_end ? 0xFFFFFFFF : static_cast<uint32_t>(cd_size));
    b.u32(zip64_end ? 0xFFFFFFFF : static_cast<uint32_t>(cd_offset));
    b.u16(0);
    return b.out;
}

std::string as_string(std::span<const std::byte> s) {
    return {reinterpret_cast<const char*>(s.data()), s.size()};
}

TEST(Zip, ReadsStoredEntries) {
    for (const bool z64 : {false, true}) {
        const auto zip = make_zip({{"arch/data.pkl", "pickle!"},
                                   {"arch/data/0", std::string(100, 'x')},
                                   {"arch/version", "3\n", 0, true}},
                                  z64);
        const ZipArchive a = ZipArchive::parse(zip);
        ASSERT_EQ(a.entries().size(), 3u);
        EXPECT_EQ(as_string(a.entry_data(*a.find("arch/data.pkl"))), "pickle!");
        EXPECT_EQ(as_string(a.entry_data(*a.find("arch/data/0"))), std::string(100, 'x'));
        EXPECT_EQ(as_string(a.entry_data(*a.find("arch/version"))), "3\n");
        EXPECT_EQ(a.find("nope"), nullptr);
        // torch aligns storages to 64 bytes; our span must point at the aligned data.
        const auto d = a.entry_data(*a.find("arch/data/0"));
        EXPECT_EQ(static_cast<size_t>(d.data() - zip.data()) % 64, 0u);
    }
}

TEST(Zip, CompressedEntryIsRefused) {
    const auto zip = make_zip({{"a/data.pkl", "xx", 8}}, true);
    const ZipArchive a = ZipArchive::parse(zip);
    EXPECT_EQ(error_of([&] { a.entry_data(a.entries()[0]); }), Errc::kUnsupported);
    try {
        a.entry_data(a.entries()[0]);
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("compressed"), std::string::npos) << e.what();
    }
}

TEST(Zip, NotAZip) {
    std::vector<std::byte> junk(100, std::byte{0x41});
    EXPECT_EQ(error_of([&] { ZipArchive::parse(junk); }), Errc::kBadMagic);
    EXPECT_EQ(error_of([&] { ZipArchive::parse({}); }), Errc::kBadMagic);
}

TEST(Zip, TruncatedArchiveFailsCleanly) {
    const auto zip = make_zip({{"a/data.pkl", "hello"}, {"a/data/0", std::string(300, 'y')}}, true);
    for (size_t n = 0; n < zip.size(); ++n) {
        const std::span<const std::byte> part(zip.data(), n);
        try {
            const ZipArchive a = ZipArchive::parse(part);
            for (const auto& e : a.entries())
                a.entry_data(e);
            ADD_FAILURE() << "prefix of " << n << " bytes parsed";
        } catch (const Error&) {
        }
    }
}

TEST(Zip, CentralDirectoryOutOfBounds) {
    auto zip = make_zip({{"a/data.pkl", "hello"}}, false);
    // Central directory offset (last 6..2 bytes of the end record) beyond the file.
    const uint32_t bad = 0x7FFFFFF0;
    std::memcpy(zip.data() + zip.size() - 6, &bad, 4);
    EXPECT_EQ(error_of([&] { ZipArchive::parse(zip); }), Errc::kOutOfBounds);
}

TEST(Zip, LocalHeaderMismatch) {
    auto zip = make_zip({{"a/data.pkl", "hello"}}, false);
    zip[0] = std::byte{'X'};  // local header signature
    const ZipArchive a = ZipArchive::parse(zip);
    EXPECT_EQ(error_of([&] { a.entry_data(a.entries()[0]); }), Errc::kBadMagic);
}

TEST(Zip, FuzzNeverCrashes) {
    const auto base = make_zip({{"a/data.pkl", "hello"},
                                {"a/data/0", std::string(70, 'y'), 0, true},
                                {"a/byteorder", "little"}},
                               true);
    test::Rng rng(42);
    for (int it = 0; it < 400; ++it) {
        std::vector<std::byte> z = base;
        const int flips = 1 + static_cast<int>(rng.next() % 4);
        for (int f = 0; f < flips; ++f)
            z[rng.next() % z.size()] = static_cast<std::byte>(rng.next());
        if (rng.next() % 3 == 0)
            z.resize(rng.next() % z.size());
        try {
            const ZipArchive a = ZipArchive::parse(z);
            for (const auto& e : a.entries()) {
                const auto d = a.entry_data(e);
                ASSERT_GE(d.data(), z.data());
                ASSERT_LE(d.data() + d.size(), z.data() + z.size());
            }
        } catch (const Error&) {
        }
    }
}

// CRC-32 as zip uses it: the catalogued check value of CRC-32/ISO-HDLC ("123456789" ->
// 0xCBF43926) and the widely published value for the pangram, then every split of a longer
// input continues to the same result, and awkward lengths agree with a bit-at-a-time CRC.
TEST(Crc32, KnownValuesAndContinuation) {
    const auto bytes = [](std::string_view s) {
        return std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.data()), s.size());
    };
    EXPECT_EQ(crc32(bytes("")), 0u);
    EXPECT_EQ(crc32(bytes("123456789")), 0xCBF43926u);
    EXPECT_EQ(crc32(bytes("The quick brown fox jumps over the lazy dog")), 0x414FA339u);

    std::string text;
    test::Rng rng(3);
    for (int i = 0; i < 77; ++i)
        text.push_back(static_cast<char>(rng.next()));
    const uint32_t whole = crc32(bytes(text));
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        const std::string_view v(text);
        EXPECT_EQ(crc32(bytes(v.substr(cut)), crc32(bytes(v.substr(0, cut)))), whole) << cut;
    }
    for (size_t n = 0; n <= text.size(); n += 5) {
        uint32_t c = 0xFFFFFFFFu;
        for (size_t i = 0; i < n; ++i) {
            c ^= static_cast<uint8_t>(text[i]);
            for (int k = 0; k < 8; ++k)
                c = (c >> 1) ^ ((c & 1) ? 0xEDB88320u : 0u);
        }
        EXPECT_EQ(crc32(bytes(std::string_view(text).substr(0, n))), ~c) << n;
    }
}

TEST(Crc32, CheckCrcNamesTheEntry) {
    ZipEntry e;
    e.name = "archive/data/0";
    const std::string data = "123456789";
    const std::span<const std::byte> b(reinterpret_cast<const std::byte*>(data.data()),
                                       data.size());
    e.crc32 = 0xCBF43926u;
    EXPECT_NO_THROW(check_crc(e, b));
    e.crc32 = 0xCBF43927u;
    std::string msg;
    EXPECT_EQ(error_of([&] { check_crc(e, b); }, &msg), Errc::kBadValue);
    EXPECT_NE(msg.find("archive/data/0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("CRC-32"), std::string::npos) << msg;
}

}  // namespace
}  // namespace mistral::convert
