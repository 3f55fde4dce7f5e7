// The allow-list unpickler, on pickles written by hand from the opcode table of CPython's
// pickletools (the same byte sequences torch.save emits for a state dict).
#include "pickle.h"

#include <cstring>
#include <string>

#include <gtest/gtest.h>
#include <mistral/error.h>

namespace mistral::convert {
namespace {

using namespace std::string_literals;

std::span<const std::byte> bytes(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// BINUNICODE
std::string str(const std::string& s) {
    const uint32_t n = static_cast<uint32_t>(s.size());
    std::string out = "X";
    out.append(reinterpret_cast<const char*>(&n), 4);
    return out + s;
}

// One state-dict entry exactly as torch.save writes it (see fixtures' data.pkl):
// key, _rebuild_tensor_v2((('storage', <cls>, key, 'cpu', numel)), offset, size, stride,
// False, OrderedDict()).
std::string tensor_entry(const std::string& name, const std::string& storage_cls,
                         const std::string& key, uint8_t numel, uint8_t offset, uint8_t rows,
                         uint8_t cols, uint8_t s0, uint8_t s1) {
    std::string p = str(name);
    p += "ctorch._utils\n_rebuild_tensor_v2\n";
    p += "((" + str("storage") + "ctorch\n" + storage_cls + "\n" + str(key) + str("cpu");
    p += std::string("K") + char(numel) + "tQ";
    p += std::string("K") + char(offset);
    p += std::string("K") + char(rows) + "K" + char(cols) + "\x86";
    p += std::string("K") + char(s0) + "K" + char(s1) + "\x86";
    p += "\x89"
         "ccollections\nOrderedDict\n)R"
         "tR";
    return p;
}

Errc error_of(const std::string& p, std::string* msg = nullptr) {
    try {
        parse_torch_pickle(bytes(p));
    } catch (const Error& e) {
        if (msg != nullptr)
            *msg = e.what();
        return e.code();
    }
    ADD_FAILURE() << "no error";
    return Errc::kIo;
}

TEST(Pickle, ParsesStateDict) {
    std::string p = "\x80\x02}q\x00("s;
    p += tensor_entry("a.weight", "FloatStorage", "0", 12, 0, 3, 4, 4, 1);
    p += tensor_entry("b.weight", "BFloat16Storage", "7", 20, 2, 2, 3, 3, 1);
    p += tensor_entry("c.weight", "HalfStorage", "x", 6, 0, 6, 1, 1, 1);
    p += "u.";
    const auto d = parse_torch_pickle(bytes(p));
    ASSERT_EQ(d.size(), 3u);
    EXPECT_EQ(d[0].first, "a.weight");
    EXPECT_EQ(d[0].second.type, DType::kF32);
    EXPECT_EQ(d[0].second.storage_key, "0");
    EXPECT_EQ(d[0].second.storage_numel, 12u);
    EXPECT_EQ(d[0].second.shape, (std::vector<uint64_t>{3, 4}));
    EXPECT_EQ(d[0].second.stride, (std::vector<uint64_t>{4, 1}));
    EXPECT_EQ(d[1].first, "b.weight");
    EXPECT_EQ(d[1].second.type, DType::kBF16);
    EXPECT_EQ(d[1].second.offset, 2u);
    EXPECT_EQ(d[1].second.storage_key, "7");
    EXPECT_EQ(d[2].second.type, DType::kF16);
}

TEST(Pickle, OrderedDictMemoAndLongInts) {
    // OrderedDict() root, SETITEM, memo round trip (BINPUT/BINGET, LONG_BINPUT/LONG_BINGET),
    // BININT / BININT2 / LONG1 sizes, _rebuild_parameter, and BUILD with ignored state.
    std::string p =
            "\x80\x02"
            "ccollections\nOrderedDict\nq\x01)R";
    p += str("w") + "ctorch._utils\n_rebuild_parameter\n";
    p += "ctorch._utils\n_rebuild_tensor_v2\nr\x05\x00\x00\x00("s;
    p += "(" + str("storage") + "ctorch\nFloatStorage\n" + str("3") + str("cpu") +
         "J\x00\x00\x01\x00tQ"s;
    p += "K\x00"s;
    p += "M\x00\x01"s + "\x8a\x02\x00\x01\x86"s;  // size (256, 256)
    p += "M\x00\x01"s + "K\x01\x86";
    p += "\x89"
         "h\x01)R"
         "tR";  // OrderedDict via BINGET 1
    p += "\x88"
         "}"
         "\x87"
         "R";  // (tensor, True, {}) -> _rebuild_parameter
    p += "s";  // SETITEM
    p += "}"
         "b";  // BUILD with an empty state: ignored
    p += ".";
    const auto d = parse_torch_pickle(bytes(p));
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].first, "w");
    EXPECT_EQ(d[0].second.storage_numel, 65536u);
    EXPECT_EQ(d[0].second.shape, (std::vector<uint64_t>{256, 256}));
    EXPECT_EQ(d[0].second.stride, (std::vector<uint64_t>{256, 1}));
}

TEST(Pickle, ForbiddenGlobalsAreRefused) {
    for (const char* g : {"os\nsystem\n", "builtins\neval\n", "posix\nsystem\n", "torch\nload\n",
                          "collections\ndefaultdict\n", "torch._utils\n_rebuild_qtensor\n"}) {
        const std::string p = std::string(
                                      "\x80\x02"
                                      "c") +
                              g + str("echo pwned") + "\x85R.";
        std::string msg;
        EXPECT_EQ(error_of(p, &msg), Errc::kUnsupported) << g;
        EXPECT_NE(msg.find("is not allowed"), std::string::npos) << msg;
    }
}

TEST(Pickle, ForbiddenOpcodesAreRefused) {
    // STACK_GLOBAL, INST, OBJ, NEWOBJ, EXT1, FRAME, BINFLOAT, SHORT_BINBYTES, DUP, POP, PERSID.
    for (const char* op : {"\x93", "i", "o", "\x81", "\x82", "\x95", "G", "C", "2", "0", "P"}) {
        const std::string p = std::string("\x80\x02") + op + "........";
        std::string msg;
        EXPECT_EQ(error_of(p, &msg), Errc::kUnsupported) << int(static_cast<unsigned char>(op[0]));
        EXPECT_NE(msg.find("pickle opcode 0x"), std::string::npos) << msg;
    }
    std::string msg;
    error_of("\x80\x02\x93.", &msg);
    EXPECT_NE(msg.find("0x93"), std::string::npos) << msg;
}

TEST(Pickle, MalformedStructureIsBadValue) {
    EXPECT_EQ(error_of("\x80\x02."), Errc::kBadValue);                         // empty stack
    EXPECT_EQ(error_of("\x80\x02N."), Errc::kBadValue);                        // not a dict
    EXPECT_EQ(error_of("\x80\x02}K\x01K\x02s."), Errc::kBadValue);             // int key
    EXPECT_EQ(error_of("\x80\x02}" + str("k") + "K\x02s."), Errc::kBadValue);  // non-tensor value
    EXPECT_EQ(error_of("\x80\x02h\x09."), Errc::kBadValue);                    // memo miss
    EXPECT_EQ(error_of("\x80\x02(t(."), Errc::kBadValue);                      // unclosed MARK
    EXPECT_EQ(error_of("\x80\x02t."), Errc::kBadValue);                        // TUPLE without MARK
    EXPECT_EQ(error_of("\x80\x02N(s."), Errc::kBadValue);                      // pops below MARK
    EXPECT_EQ(error_of("\x80\x02"
                       "ctorch\nFloatStorage\n)R."),
              Errc::kBadValue);                                // call a storage
    EXPECT_EQ(error_of("\x80\x02K\x01)R."), Errc::kBadValue);  // call an int
    EXPECT_EQ(error_of("\x80\x02K\x01Q."), Errc::kBadValue);   // bad persistent id
    EXPECT_EQ(error_of("\x80\x02]}a."), Errc::kBadValue);      // APPEND to dict
    EXPECT_EQ(error_of("\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."), Errc::kBadValue);
    EXPECT_EQ(error_of("\x80\x02\x8c\x01\xff."), Errc::kBadValue);  // invalid UTF-8
    EXPECT_EQ(error_of("\x80\x09}."), Errc::kBadValue);             // protocol 9
    // A self-referencing list must not leak or loop.
    EXPECT_EQ(error_of("\x80\x02]q\x00h\x00a."s), Errc::kBadValue);
    // Duplicate keys.
    std::string p = "\x80\x02}(";
    p += tensor_entry("a", "FloatStorage", "0", 1, 0, 1, 1, 1, 1);
    p += tensor_entry("a", "FloatStorage", "1", 1, 0, 1, 1, 1, 1);
    EXPECT_EQ(error_of(p + "u."), Errc::kBadValue);
}

TEST(Pickle, TruncationIsReported) {
    std::string p = "\x80\x02}(";
    p += tensor_entry("a.weight", "FloatStorage", "0", 12, 0, 3, 4, 4, 1);
    p += "u.";
    for (size_t n = 0; n + 1 < p.size(); ++n) {
        const Errc c = error_of(p.substr(0, n));
        EXPECT_TRUE(c == Errc::kTruncated || c == Errc::kBadValue) << "prefix " << n;
    }
}

}  // namespace
}  // namespace mistral::convert
