// Typed errors for bad input (files, flags, text). Thrown only on load/parse/convert/argument
// paths, never from the hot path. what() is one line: "<where>: <problem>".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mistral {

enum class Errc {
    kIo,               // open/read/write/mmap failed
    kBadMagic,         // not our file (or not the format we expected)
    kNewerVersion,     // made by a newer version of the writer
    kTruncated,        // data ends before a field or tensor does
    kOutOfBounds,      // an offset/size points outside its container
    kUnsupportedType,  // unknown tensor type or unsupported feature
    kShapeMismatch,    // a tensor's shape disagrees with the hyperparameters
    kMissingTensor,    // a required tensor is absent
    kBadValue,         // a field holds an impossible value (zero dims, NaN eps, ...)
    kInvalidArgument,  // bad flag or argument
    kInvalidUtf8,      // text is not valid UTF-8
    kContextOverflow,  // the prompt/generation does not fit the context
    kUnsupported,      // valid input we deliberately do not handle
};

// Short stable name of an error code, e.g. "truncated".
std::string_view errc_name(Errc code) noexcept;

class Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

// Returns a copy of `e` whose message is prefixed with "<context>: ".
Error with_context(const Error& e, std::string_view context);

}  // namespace mistral
