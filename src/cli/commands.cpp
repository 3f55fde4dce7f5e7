#include "cli/commands.h"

namespace mistral::cli {

std::span<const Command> commands() {
    static const Command kCommands[] = {
            {"complete", cmd_complete,
             "continue a prompt, streaming the text (sampling options, stop strings)"},
            {"chat", cmd_chat,
             "chat with an instruct model ([INST] template), interactive or piped"},
            {"bench", cmd_bench,
             "prompt and generation tokens/s (llama-bench style table or --json)"},
            {"info", cmd_info,
             "show a model file's hyperparameters, tokenizer, tensors and memory"},
            {"logits", cmd_logits,
             "write the float32 logits of token ids (last or every position)"},
            {"perplexity", cmd_perplexity, "perplexity of a text or token ids, in strided windows"},
            {"eval", cmd_eval, "zero-shot multiple-choice accuracy by choice log-likelihood"},
            {"moderate", cmd_moderate,
             "self-reflection moderation: classify a text by label log-likelihood"},
            {"arena", cmd_arena,
             "blind pairwise battles between two models; Elo / Bradley-Terry ratings"},
            {"tokenize", cmd_tokenize,
             "encode text to token ids (or decode ids) exactly as sentencepiece does"},
    };
    return kCommands;
}

}  // namespace mistral::cli
