// `mistral`: dispatch to a subcommand; the only place errors become exit codes.
#include <cstdio>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include <mistral/error.h>

#include "cli/args.h"
#include "cli/commands.h"

namespace {

void print_help() {
    std::cout << "usage: mistral COMMAND [options]   (mistral COMMAND --help for its options)\n\n"
                 "A CPU inference engine for Mistral-7B-class models.\n\ncommands:\n";
    for (const auto& c : mistral::cli::commands()) {
        std::string name = c.name;
        name.resize(12, ' ');
        std::cout << "  " << name << c.summary << "\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        print_help();
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "mistral.cpp 0.1.0\n";
        return 0;
    }
    const std::string name = args[0];
    const std::span<const std::string> rest(args.data() + 1, args.size() - 1);
    for (const auto& c : mistral::cli::commands()) {
        if (name != c.name)
            continue;
        try {
            return c.fn(rest);
        } catch (const mistral::cli::UsageError& e) {
            std::cout.flush();
            std::cerr << "mistral " << name << ": " << e.what() << "\n";
            return 2;
        } catch (const mistral::Error& e) {
            std::cout.flush();
            std::cerr << "mistral " << name << ": " << e.what() << "\n";
            return 1;
        } catch (const std::bad_alloc&) {
            std::cout.flush();
            std::cerr << "mistral " << name << ": out of memory\n";
            return 1;
        } catch (const std::exception& e) {
            std::cout.flush();
            std::cerr << "mistral " << name << ": " << e.what() << "\n";
            return 1;
        }
    }
    std::cerr << "mistral: unknown command '" << name << "' (see mistral --help)\n";
    return 2;
}
