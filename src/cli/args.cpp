#include "cli/args.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace mistral::cli {

namespace {

std::vector<std::string_view> split_names(std::string_view names) {
    std::vector<std::string_view> out;
    while (!names.empty()) {
        const size_t c = names.find(',');
        out.push_back(names.substr(0, c));
        if (c == std::string_view::npos)
            break;
        names.remove_prefix(c + 1);
    }
    return out;
}

const OptSpec* find_spec(std::span<const OptSpec> specs, std::string_view name) {
    for (const auto& s : specs) {
        for (auto n : split_names(s.names)) {
            if (n == name)
                return &s;
        }
    }
    return nullptr;
}

}  // namespace

std::optional<std::string> ParsedArgs::get(std::string_view canonical) const {
    auto it = values_.find(std::string(canonical));
    if (it == values_.end() || it->second.empty())
        return std::nullopt;
    return it->second.back();
}

std::vector<std::string> ParsedArgs::all(std::string_view canonical) const {
    auto it = values_.find(std::string(canonical));
    return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::string ParsedArgs::get_or(std::string_view canonical, std::string dflt) const {
    auto v = get(canonical);
    return v ? *v : dflt;
}

int64_t ParsedArgs::get_int(std::string_view canonical, int64_t dflt, int64_t lo,
                            int64_t hi) const {
    auto v = get(canonical);
    return v ? parse_int(canonical, *v, lo, hi) : dflt;
}

double ParsedArgs::get_real(std::string_view canonical, double dflt, double lo, double hi) const {
    auto v = get(canonical);
    return v ? parse_real(canonical, *v, lo, hi) : dflt;
}

bool wants_help(std::span<const std::string> argv) {
    for (const auto& a : argv) {
        if (a == "--help" || a == "-h")
            return true;
        if (a == "--")
            break;
    }
    return false;
}

ParsedArgs parse_args(std::span<const std::string> argv, std::span<const OptSpec> specs,
                      size_t max_positional) {
    ParsedArgs out;
    bool only_positional = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (!only_positional && a == "--") {
            only_positional = true;
            continue;
        }
        // "-" alone is a value (stdin), and negative numbers are positional values.
        if (only_positional || a.size() < 2 || a[0] != '-' ||
            (a.size() > 1 && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.'))) {
            if (out.positional_.size() >= max_positional) {
                throw UsageError("unexpected argument '" + a + "'");
            }
            out.positional_.push_back(a);
            continue;
        }
        std::string name = a;
        std::optional<std::string> inline_value;
        if (const size_t eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
        }
        const OptSpec* spec = find_spec(specs, name);
        if (spec == nullptr) {
            throw UsageError("unknown option '" + name + "' (see --help)");
        }
        const std::string canonical(split_names(spec->names).front());
        if (spec->value.empty()) {
            if (inline_value)
                throw UsageError("option " + name + " takes no value");
            out.values_[canonical].push_back("1");
            continue;
        }
        if (!inline_value) {
            if (i + 1 >= argv.size()) {
                throw UsageError("option " + name + " needs a value (" + std::string(spec->value) +
                                 ")");
            }
            inline_value = argv[++i];
        }
        out.values_[canonical].push_back(*inline_value);
    }
    return out;
}

std::string format_help(std::string_view usage, std::string_view summary,
                        std::span<const OptSpec> specs) {
    std::string out = "usage: " + std::string(usage) + "\n";
    if (!summary.empty())
        out += std::string(summary) + "\n";
    if (!specs.empty())
        out += "\noptions:\n";
    for (const auto& s : specs) {
        std::string left = "  ";
        const auto names = split_names(s.names);
        // Show short names first for readability: "-n, --n-predict N".
        std::vector<std::string_view> ordered;
        for (auto n : names)
            if (n.size() == 2)
                ordered.push_back(n);
        for (auto n : names)
            if (n.size() != 2)
                ordered.push_back(n);
        for (size_t i = 0; i < ordered.size(); ++i) {
            if (i)
                left += ", ";
            left += ordered[i];
        }
        if (!s.value.empty())
            left += " " + std::string(s.value);
        if (left.size() < 28)
            left.resize(28, ' ');
        else
            left += "  ";
        out += left + std::string(s.help) + "\n";
    }
    return out;
}

int64_t parse_int(std::string_view flag, std::string_view text, int64_t lo, int64_t hi) {
    const std::string s(text);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE) {
        throw UsageError(std::string(flag) + ": '" + s + "' is not an integer");
    }
    if (v < lo || v > hi) {
        throw UsageError(std::string(flag) + ": " + s + " is out of range [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
    }
    return v;
}

double parse_real(std::string_view flag, std::string_view text, double lo, double hi) {
    const std::string s(text);
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
        throw UsageError(std::string(flag) + ": '" + s + "' is not a number");
    }
    if (v < lo || v > hi) {
        throw UsageError(std::string(flag) + ": " + s + " is out of range [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
    }
    return v;
}

}  // namespace mistral::cli
