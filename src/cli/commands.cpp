#include "cli/commands.h"

namespace mistral::cli {

std::span<const Command> commands() {
    static const Command kCommands[] = {
            {"info", cmd_info, "show a model file's hyperparameters, tokenizer, tensors and memory"},
    };
    return kCommands;
}

}  // namespace mistral::cli
