// Input detection for the converter.
#include <cstring>
#include <fstream>

#include <mistral/error.h>

#include "source.h"

namespace mistral::convert {

std::unique_ptr<TensorSource> open_source(const std::filesystem::path& input,
                                          const SourceOptions& opts) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(input, ec)) {
        throw Error(Errc::kIo, input.string() + ": no such file or directory");
    }
    if (fs::is_directory(input, ec)) {
        if (fs::exists(input / "config.json", ec))
            return open_hf(input, opts);
        if (fs::exists(input / "params.json", ec))
            return open_native(input, opts);
        throw Error(Errc::kBadMagic, input.string() +
                                             ": neither a Hugging Face folder (config.json) nor a "
                                             "Mistral folder (params.json)");
    }
    char magic[4] = {};
    std::ifstream in(input, std::ios::binary);
    if (!in)
        throw Error(Errc::kIo, input.string() + ": cannot open");
    in.read(magic, 4);
    if (in.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0)
        return open_gguf(input, opts);
    if (in.gcount() < 4)
        throw Error(Errc::kTruncated, input.string() + ": file too short to identify");
    throw Error(Errc::kBadMagic, input.string() +
                                         ": not a GGUF file; give a Hugging Face or Mistral model "
                                         "folder, or a .gguf file");
}

}  // namespace mistral::convert
