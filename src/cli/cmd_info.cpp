// `mistral info FILE`: hyperparameters, tokenizer summary, tensor table, memory figures.
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include <mistral/chat.h>
#include <mistral/model.h>
#include <mistral/tokenizer.h>

#include "cli/args.h"
#include "cli/commands.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kInfoOpts[] = {
        {"--model,-m", "FILE", "model file (or give it as the argument)"},
        {"--no-tensors", "", "omit the per-tensor table"},
};

std::string human_bytes(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024.0 && u < 4) {
        b /= 1024.0;
        ++u;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
    return buf;
}

}  // namespace

int cmd_info(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral info [-m] FILE [--no-tensors]",
                "Show a model file's hyperparameters, tokenizer, tensors and memory needs.",
                kInfoOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kInfoOpts, 1);
    std::string path = args.get_or("--model", "");
    if (!args.positional().empty())
        path = args.positional()[0];
    if (path.empty())
        throw UsageError("no model file given (mistral info FILE)");

    const auto model = Model::load(path);
    const ModelConfig& c = model->config();
    const ModelFile& f = model->file();
    std::ostringstream o;
    o << "file:            " << path << " ("
      << human_bytes(static_cast<double>(model->file_bytes())) << ", format v" << f.version
      << ")\n";
    o << "architecture:    " << c.n_layers << " layers, dim " << c.dim << ", " << c.n_heads
      << " query heads / " << c.n_kv_heads << " kv heads (group " << c.group() << "), head_dim "
      << c.head_dim << ", hidden_dim " << c.hidden_dim << "\n";
    o << "vocab_size:      " << c.vocab_size << " (bos " << c.bos_id << ", eos " << c.eos_id
      << ")\n";
    o << "norm_eps:        " << c.norm_eps << "\nrope_theta:      " << c.rope_theta << "\n";
    o << "sliding_window:  "
      << (c.window > 0 ? std::to_string(c.window) : std::string("0 (full attention)")) << "\n";
    o << "max_context:     " << c.max_context << "\n";
    o << "parameters:      " << c.n_params() << "\n";

    // Tokenizer summary.
    const Tokenizer tok(deserialize_tokenizer(model->tokenizer_blob()));
    const TokenizerModel& tm = tok.model();
    std::map<PieceType, size_t> by_type;
    for (auto t : tm.types)
        ++by_type[t];
    o << "tokenizer:       " << (tm.kind == TokenizerModel::Kind::kBpe ? "BPE" : "unigram") << ", "
      << tm.size() << " pieces (" << by_type[PieceType::kNormal] << " normal, "
      << by_type[PieceType::kByte] << " byte, " << by_type[PieceType::kControl] << " control, "
      << by_type[PieceType::kUserDefined] << " user-defined, " << by_type[PieceType::kUnknown]
      << " unknown, " << by_type[PieceType::kUnused] << " unused)\n";
    o << "                 unk " << tm.unk_id << ", bos " << tm.bos_id << ", eos " << tm.eos_id
      << ", pad " << tm.pad_id << "; byte_fallback " << tm.byte_fallback << ", split_digits "
      << tm.split_digits << ", add_dummy_prefix " << tm.add_dummy_prefix << ", normalizer "
      << tm.normalizer_name << "\n";
    const ChatFormat chat = chat_format(tok);
    o << "chat template:   " << chat_format_name(chat)
      << (chat == ChatFormat::kV3 ? " ([INST] / [/INST] special tokens)"
                                  : " ([INST] / [/INST] as text)")
      << "\n";

    // Tensors.
    uint64_t total = 0;
    std::map<DType, uint64_t> bytes_by_type;
    if (!args.has("--no-tensors"))
        o << "tensors:\n";
    for (const auto& t : f.tensors) {
        total += t.view.nbytes();
        bytes_by_type[t.view.type] += t.view.nbytes();
        if (args.has("--no-tensors"))
            continue;
        char line[256];
        std::snprintf(line, sizeof line, "  %-40s %-7s %-16s %12llu\n", t.name.c_str(),
                      std::string(dtype_name(t.view.type)).c_str(), shape_string(t.view).c_str(),
                      static_cast<unsigned long long>(t.view.nbytes()));
        o << line;
    }
    o << "tensor data:     " << f.tensors.size() << " tensors, " << total << " bytes ("
      << human_bytes(static_cast<double>(total)) << ";";
    for (const auto& [t, b] : bytes_by_type)
        o << " " << dtype_name(t) << " " << human_bytes(static_cast<double>(b));
    o << ")\n";

    // KV cache: keys and values for every layer, kv_dim each, per cached position.
    const double per_tok_f32 = 2.0 * static_cast<double>(c.n_layers * c.kv_dim()) * 4.0;
    const double per_tok_f16 = per_tok_f32 / 2.0;
    o << "kv cache:        " << human_bytes(per_tok_f32) << " per position (f32), "
      << human_bytes(per_tok_f16) << " (f16)\n";
    if (c.window > 0) {
        const double w = static_cast<double>(c.window);
        o << "                 at the full window (" << c.window
          << " positions): " << human_bytes(per_tok_f32 * w) << " (f32), "
          << human_bytes(per_tok_f16 * w) << " (f16) -- constant however long the text\n";
        const double n32k = 32768.0;
        const double swa = std::min(w, n32k);
        o << "                 at 32768 tokens: " << human_bytes(per_tok_f16 * swa)
          << " (f16) with the rolling buffer vs " << human_bytes(per_tok_f16 * n32k)
          << " with full attention (ratio 1/" << static_cast<long long>(n32k / swa + 0.5) << ")\n";
    } else {
        const double ctx = static_cast<double>(c.max_context > 0 ? c.max_context : 4096);
        o << "                 at " << static_cast<long long>(ctx)
          << " positions (full attention): " << human_bytes(per_tok_f32 * ctx) << " (f32), "
          << human_bytes(per_tok_f16 * ctx) << " (f16)\n";
    }
    std::cout << o.str();
    return 0;
}

}  // namespace mistral::cli
