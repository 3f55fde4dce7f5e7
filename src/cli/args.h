// Declarative command-line parsing for the `mistral` subcommands. Unknown flags, missing
// values and out-of-range numbers throw UsageError (exit code 2) naming the flag.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/error.h>

namespace mistral::cli {

// A usage error: exit code 2, message names the flag.
class UsageError : public Error {
public:
    explicit UsageError(const std::string& msg) : Error(Errc::kInvalidArgument, msg) {}
};

struct OptSpec {
    std::string_view names;  // comma separated, canonical (used for lookup) first: "--n-predict,-n"
    std::string_view value;  // value placeholder ("N", "TEXT"); empty for a boolean flag
    std::string_view help;   // one line
};

class ParsedArgs {
public:
    bool has(std::string_view canonical) const {
        return values_.count(std::string(canonical)) != 0;
    }
    // Last value given for the option (options may repeat; last wins).
    std::optional<std::string> get(std::string_view canonical) const;
    // Every value given, in order (repeatable options such as --stop).
    std::vector<std::string> all(std::string_view canonical) const;
    std::string get_or(std::string_view canonical, std::string dflt) const;
    int64_t get_int(std::string_view canonical, int64_t dflt, int64_t lo, int64_t hi) const;
    double get_real(std::string_view canonical, double dflt, double lo, double hi) const;
    const std::vector<std::string>& positional() const { return positional_; }

    std::map<std::string, std::vector<std::string>> values_;
    std::vector<std::string> positional_;
};

// Parses argv (after the subcommand name). "--help"/"-h" is handled by the caller via
// wants_help(). `max_positional` bounds positional arguments. "--flag=value" is accepted.
ParsedArgs parse_args(std::span<const std::string> argv, std::span<const OptSpec> specs,
                      size_t max_positional = 0);
bool wants_help(std::span<const std::string> argv);
// Formats "usage: ...\n" + one line per option.
std::string format_help(std::string_view usage, std::string_view summary,
                        std::span<const OptSpec> specs);

// Strict number parsing; throws UsageError naming `flag`.
int64_t parse_int(std::string_view flag, std::string_view text, int64_t lo, int64_t hi);
double parse_real(std::string_view flag, std::string_view text, double lo, double hi);

}  // namespace mistral::cli
