// Seeded truncations and byte flips of a valid file image: the loader must either succeed or
// throw mistral::Error -- never crash, hang or read out of bounds (CI runs this under ASan).
#include <cstring>

#include <gtest/gtest.h>
#include <mistral/error.h>
#include <mistral/model.h>

#include "test_util.h"

namespace mistral {
namespace {

void load_or_error(std::vector<std::byte> img, size_t* ok, size_t* err) {
    try {
        auto m = Model::from_image(std::move(img));
        // Touch every bound tensor's first and last byte: views must be in bounds.
        unsigned sum = 0;
        for (const auto& t : m->file().tensors) {
            sum += static_cast<unsigned>(t.view.data[0]) +
                   static_cast<unsigned>(t.view.data[t.view.nbytes() - 1]);
        }
        (void)sum;
        ++*ok;
    } catch (const Error&) {
        ++*err;
    }
}

TEST(ModelFileFuzz, TruncationsAndByteFlips) {
    const auto base = test::make_model_image(test::tiny_config(), DType::kQ4_0, 3);
    test::Rng rng(12345);
    size_t ok = 0, err = 0;
    // Every truncation point in the metadata, then random ones in the data.
    uint64_t data_offset;
    std::memcpy(&data_offset, base.data() + 24, 8);
    for (size_t cut = 0; cut < data_offset; cut += 7) {
        load_or_error(std::vector<std::byte>(base.begin(),
                                             base.begin() + static_cast<std::ptrdiff_t>(cut)),
                      &ok, &err);
    }
    for (int i = 0; i < 200; ++i) {
        const size_t cut = rng.next() % base.size();
        load_or_error(std::vector<std::byte>(base.begin(),
                                             base.begin() + static_cast<std::ptrdiff_t>(cut)),
                      &ok, &err);
    }
    // Byte flips concentrated on the metadata, where they matter.
    for (int i = 0; i < 600; ++i) {
        auto img = base;
        const int flips = 1 + static_cast<int>(rng.next() % 4);
        for (int f = 0; f < flips; ++f) {
            const size_t at = rng.next() % std::min<size_t>(img.size(), data_offset);
            img[at] = static_cast<std::byte>(rng.next() & 0xff);
        }
        load_or_error(std::move(img), &ok, &err);
    }
    EXPECT_GT(err, 500u);  // most mutations are caught
    EXPECT_GT(ok, 0u);     // and some harmless ones load
}

}  // namespace
}  // namespace mistral
