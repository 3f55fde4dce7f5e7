// The `mistral` subcommands. Each takes the arguments after its name and returns the exit
// code; input errors are thrown (mistral::Error -> 1, cli::UsageError -> 2) and main() turns
// them into one line on stderr.
#pragma once

#include <span>
#include <string>

namespace mistral::cli {

using CommandFn = int (*)(std::span<const std::string> args);

struct Command {
    const char* name;
    CommandFn fn;
    const char* summary;
};

// The table main() dispatches on, in --help order.
std::span<const Command> commands();

int cmd_complete(std::span<const std::string> args);
int cmd_chat(std::span<const std::string> args);
int cmd_bench(std::span<const std::string> args);
int cmd_info(std::span<const std::string> args);
int cmd_logits(std::span<const std::string> args);
int cmd_tokenize(std::span<const std::string> args);
int cmd_perplexity(std::span<const std::string> args);
int cmd_eval(std::span<const std::string> args);
int cmd_moderate(std::span<const std::string> args);
int cmd_arena(std::span<const std::string> args);

class ParsedArgs;
// The prompt from -p, -f FILE or stdin (one trailing newline dropped unless --raw).
std::string read_prompt(const ParsedArgs& args);

}  // namespace mistral::cli
