#include <mistral/error.h>

namespace mistral {

std::string_view errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::kIo:
            return "io";
        case Errc::kBadMagic:
            return "bad magic";
        case Errc::kNewerVersion:
            return "newer version";
        case Errc::kTruncated:
            return "truncated";
        case Errc::kOutOfBounds:
            return "out of bounds";
        case Errc::kUnsupportedType:
            return "unsupported type";
        case Errc::kShapeMismatch:
            return "shape mismatch";
        case Errc::kMissingTensor:
            return "missing tensor";
        case Errc::kBadValue:
            return "bad value";
        case Errc::kInvalidArgument:
            return "invalid argument";
        case Errc::kInvalidUtf8:
            return "invalid utf-8";
        case Errc::kContextOverflow:
            return "context overflow";
        case Errc::kUnsupported:
            return "unsupported";
    }
    return "error";
}

Error with_context(const Error& e, std::string_view context) {
    std::string msg(context);
    msg += ": ";
    msg += e.what();
    return Error(e.code(), msg);
}

}  // namespace mistral
