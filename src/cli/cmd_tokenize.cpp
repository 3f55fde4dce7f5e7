// `mistral tokenize`: text -> ids (or pieces) and, with --decode, ids -> text, using the
// tokenizer of a model file (-m) or a bare tokenizer.model / GGUF vocabulary (--tokenizer).
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>

#include <mistral/error.h>
#include <mistral/model.h>
#include <mistral/tokenizer.h>

#include "cli/args.h"
#include "cli/commands.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kTokenizeOpts[] = {
        {"--model,-m", "FILE", "model file (its embedded tokenizer)"},
        {"--tokenizer", "FILE", "a sentencepiece tokenizer.model or a GGUF file's vocabulary"},
        {"--prompt,-p", "TEXT",
         "the text (or, with --decode, the ids); default: all of stdin, raw"},
        {"--pieces", "", "print the pieces instead of the ids"},
        {"--bos", "", "prepend the BOS id"},
        {"--decode", "", "read whitespace-separated ids and print their text exactly"},
};

std::string read_stdin() {
    std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    if (std::cin.bad())
        throw Error(Errc::kIo, "stdin: read failed");
    return data;
}

// Parses whitespace-separated decimal ids; anything else is an error naming the token.
std::vector<TokenId> parse_ids(std::string_view text) {
    std::vector<TokenId> ids;
    size_t i = 0;
    const auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
    };
    while (i < text.size()) {
        if (is_space(text[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && !is_space(text[j]))
            ++j;
        const std::string_view word = text.substr(i, j - i);
        size_t k = word[0] == '-' ? 1 : 0;
        bool ok = k < word.size() && word.size() - k <= 10;
        int64_t v = 0;
        for (; ok && k < word.size(); ++k) {
            if (word[k] < '0' || word[k] > '9') {
                ok = false;
            } else {
                v = v * 10 + (word[k] - '0');
            }
        }
        if (!ok)
            throw Error(Errc::kInvalidArgument,
                        "'" + std::string(word.substr(0, 40)) + "' is not a token id");
        if (word[0] == '-')
            v = -v;
        if (v < INT32_MIN || v > INT32_MAX) {
            throw Error(Errc::kInvalidArgument,
                        "token id " + std::string(word) + " is out of range");
        }
        ids.push_back(static_cast<TokenId>(v));
        i = j;
    }
    return ids;
}

Tokenizer load_tokenizer(const ParsedArgs& args) {
    const bool has_model = args.has("--model"), has_tok = args.has("--tokenizer");
    if (has_model == has_tok)
        throw UsageError("give exactly one of -m MODEL or --tokenizer FILE");
    if (has_tok)
        return Tokenizer(load_tokenizer_file(*args.get("--tokenizer")));
    const std::string path = *args.get("--model");
    const auto model = Model::load(path);
    try {
        return Tokenizer(deserialize_tokenizer(model->tokenizer_blob()));
    } catch (const Error& e) {
        throw with_context(e, path);
    }
}

}  // namespace

int cmd_tokenize(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral tokenize (-m MODEL | --tokenizer FILE) [--pieces] [--bos] [-p TEXT]\n"
                "       mistral tokenize (-m MODEL | --tokenizer FILE) --decode [-p IDS]",
                "Encode text to token ids exactly as sentencepiece does, or decode ids.",
                kTokenizeOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kTokenizeOpts);
    const bool decode = args.has("--decode");
    if (decode && (args.has("--pieces") || args.has("--bos"))) {
        throw UsageError("--pieces and --bos only apply when encoding");
    }
    const Tokenizer tok = load_tokenizer(args);
    const std::string input = args.has("--prompt") ? *args.get("--prompt") : read_stdin();

    if (decode) {
        const std::string text = tok.decode(parse_ids(input));
        std::cout.write(text.data(), static_cast<std::streamsize>(text.size()));
        std::cout.flush();
        return 0;
    }
    std::vector<TokenId> ids;
    if (args.has("--bos")) {
        if (tok.bos_id() < 0)
            throw Error(Errc::kUnsupported, "this tokenizer has no BOS piece");
        ids.push_back(tok.bos_id());
    }
    const std::vector<TokenId> body = tok.encode(input);
    ids.insert(ids.end(), body.begin(), body.end());
    std::string line;
    for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0)
            line += ' ';
        if (args.has("--pieces")) {
            line += tok.piece(ids[i]);
        } else {
            line += std::to_string(ids[i]);
        }
    }
    line += '\n';
    std::cout.write(line.data(), static_cast<std::streamsize>(line.size()));
    std::cout.flush();
    return 0;
}

}  // namespace mistral::cli
