#include "cli/commands.h"

namespace mistral::cli {

std::span<const Command> commands() {
    static const Command kCommands[] = {
            {"info", cmd_info, "show a model file's hyperparameters, tokenizer, tensors and memory"},
            {"logits", cmd_logits, "write the float32 logits of token ids (last or every position)"},
            {"tokenize", cmd_tokenize, "encode text to token ids (or decode ids) exactly as sentencepiece does"},
    };
    return kCommands;
}

}  // namespace mistral::cli
