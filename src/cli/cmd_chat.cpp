// `mistral chat`: Mistral Instruct conversations (the template the vocabulary implies, see
// chat.h). Interactive on a terminal (REPL with commands), one turn per line when piped, or a
// whole conversation from a JSON file. The KV cache is kept across turns: each turn prefills only
// its own new tokens, except where the template moves the system prompt to the newest user turn
// (V3): then the conversation is encoded again and prefilled from where it first differs from
// the cached tokens (from its start once a sliding-window cache has reused a slot).
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <mistral/chat.h>
#include <mistral/error.h>
#include <mistral/generate.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

const std::vector<OptSpec> kChatOpts = {
        {"--system", "TEXT",
         "system prompt, then a blank line, before the first user message (v1) or the newest "
         "(v3)"},
        {"--guardrails", "", "use the paper's guardrail system prompt (before --system)"},
        {"--n-predict,-n", "N", "tokens per reply at most (default -1: until EOS)"},
        {"--one", "", "piped: all of stdin is one user message"},
        {"--conversation", "FILE", "a JSON conversation: generate its next reply"},
        {"--ids", "", "with --conversation: print the template's token ids and exit"},
};

constexpr const char* kReplHelp =
        "  type a message and press Enter; end a line with \\ to continue it, or wrap several\n"
        "  lines in \"\"\" ... \"\"\".\n"
        "  /help          this help\n"
        "  /reset         forget the conversation (keeps the system prompt)\n"
        "  /system TEXT   set the system prompt and start over\n"
        "  /save FILE     save the conversation as JSON\n"
        "  /load FILE     load a JSON conversation (and answer it if it ends with a user turn)\n"
        "  /exit          quit (also Ctrl-D, or Ctrl-C at an empty prompt)\n"
        "  Ctrl-C while the model writes stops the reply.\n";

class Chat {
public:
    Chat(LoadedModel& lm, const ParsedArgs& args, std::string system, bool quiet)
        : lm_(lm),
          session_(*lm.model, *lm.kernels, session_options(args, lm)),
          sampler_(sampler_params(args)),
          system_(std::move(system)),
          quiet_(quiet),
          format_(chat_format(*lm.tokenizer)) {
        go_.max_tokens = args.get_int("--n-predict", -1, -1, int64_t{1} << 40);
        go_.chunk = chunk_option(args);
        go_.continue_text = false;  // a reply is its own text (as mistral-common decodes it)
    }

    const std::vector<ChatMessage>& messages() const { return messages_; }

    void reset() {
        session_.reset();
        cached_.clear();
        messages_.clear();
        pending_.clear();
    }
    void set_system(std::string s) {
        system_ = std::move(s);
        reset();
    }

    // Replaces the conversation; answers it when it ends with a user turn.
    void load(std::vector<ChatMessage> msgs, bool stream) {
        validate_conversation(msgs);
        reset();
        std::string sys;
        std::vector<ChatMessage> turns;
        for (auto& m : msgs) {
            if (m.role == "system") {
                sys += (sys.empty() ? "" : "\n\n") + m.content;
            } else {
                turns.push_back(std::move(m));
            }
        }
        if (!sys.empty())
            system_ = sys;
        if (!turns.empty() && turns.back().role == "user") {
            const std::string last = turns.back().content;
            turns.pop_back();
            if (system_prompt_moves())
                messages_ = std::move(turns);  // reply() encodes it all (system prompt last)
            else
                prime(turns);
            reply(last, stream);
        } else {
            prime(turns);
        }
    }

    // One user turn: prefills its new tokens and streams the reply. Returns the reply text.
    std::string reply(const std::string& user, bool stream) {
        std::vector<TokenId> ids;
        if (system_prompt_moves() && !messages_.empty()) {
            // The system prompt leaves the earlier user turn for this one: the cached tokens
            // no longer match the template.
            ids = reencode(0, user);
        } else {
            ids = pending_;
            if (messages_.empty() && session_.pos() == 0)
                ids.push_back(lm_.tokenizer->bos_id());
            const bool first_user = messages_.empty();
            const auto turn = encode_user_turn(*lm_.tokenizer, user,
                                               first_user ? std::string_view(system_) : "");
            ids.insert(ids.end(), turn.begin(), turn.end());
        }
        if (!session_.rolling() &&
            session_.pos() + static_cast<int64_t>(ids.size()) + reply_room() >
                    session_.capacity()) {
            ids = drop_oldest_turns(user);
        }
        const int64_t cached = session_.pos();
        std::vector<TokenId> held = std::move(cached_);
        sigint_flag().store(false);
        cached_.clear();  // unknown until generate returns (it may throw halfway)
        const GenerateResult r = generate(session_, sampler_, lm_.tokenizer.get(), ids, go_,
                                          [&](TokenId, std::string_view text) {
                                              if (stream)
                                                  write_stdout(text);
                                              return !sigint_flag().load();
                                          });
        // The session holds the prompt and every sampled id but the last (generate.h).
        if (static_cast<int64_t>(held.size()) == cached &&
            session_.pos() == cached + static_cast<int64_t>(ids.size() + r.ids.size()) -
                                      (r.ids.empty() ? 0 : 1)) {
            cached_ = std::move(held);
            cached_.insert(cached_.end(), ids.begin(), ids.end());
            if (!r.ids.empty())
                cached_.insert(cached_.end(), r.ids.begin(), r.ids.end() - 1);
        }
        // The assistant turn ends with EOS in the template; the last sampled id was not fed.
        pending_.clear();
        if (!r.ids.empty() && r.ids.back() != lm_.tokenizer->eos_id())
            pending_.push_back(r.ids.back());
        pending_.push_back(lm_.tokenizer->eos_id());
        messages_.push_back({"user", user});
        messages_.push_back({"assistant", r.text});
        if (!quiet_) {
            const double pp = r.prompt_ms > 0
                                      ? static_cast<double>(r.prompt_tokens) * 1000.0 / r.prompt_ms
                                      : 0.0;
            const double tg =
                    r.gen_ms > 0 ? static_cast<double>(r.ids.size()) * 1000.0 / r.gen_ms : 0.0;
            std::fprintf(stderr,
                         "%s[prompt: %lld new tokens (%lld reused from the cache), %.1f tok/s | "
                         "reply: %zu tokens, %.1f tok/s%s]\n",
                         stream && ::isatty(1) && ::isatty(2) ? "\n" : "",
                         static_cast<long long>(r.prompt_tokens), static_cast<long long>(cached),
                         pp, r.ids.size(), tg, sigint_flag().load() ? ", interrupted" : "");
        }
        return r.text;
    }

private:
    // V3 puts the system prompt on the newest user turn, so a new turn changes earlier tokens.
    bool system_prompt_moves() const { return format_ == ChatFormat::kV3 && !system_.empty(); }

    // Prefills a conversation of complete user/assistant pairs (no reply).
    void prime(const std::vector<ChatMessage>& turns) {
        if (turns.empty())
            return;
        std::vector<ChatMessage> all;
        if (!system_.empty())
            all.push_back({"system", system_});
        all.insert(all.end(), turns.begin(), turns.end());
        const std::vector<TokenId> ids = encode_chat(*lm_.tokenizer, all);
        check_fits(static_cast<int64_t>(ids.size()));
        session_.prefill(ids, go_.chunk);
        cached_ = ids;
        messages_ = turns;
    }

    void check_fits(int64_t n) const {
        if (!session_.rolling() && n > session_.capacity()) {
            throw Error(Errc::kContextOverflow, "the conversation needs " + std::to_string(n) +
                                                        " tokens, the context holds " +
                                                        std::to_string(session_.capacity()) +
                                                        " (raise -c)");
        }
    }

    // Positions kept free for a reply when a full-attention context is filling up: the reply
    // limit (-n) when set, else 256, and never more than half the context.
    int64_t reply_room() const {
        const int64_t want = go_.max_tokens > 0 ? go_.max_tokens : 256;
        return std::min(want, session_.capacity() / 2);
    }

    // Full-attention models: re-encode the conversation without its oldest turns until the new
    // turn fits with room to answer; the session restarts from scratch.
    std::vector<TokenId> drop_oldest_turns(const std::string& user) {
        size_t dropped = 0;
        while (true) {
            const int64_t room =
                    session_.capacity() - static_cast<int64_t>(encode_with(dropped, user).size());
            if (room >= reply_room() || dropped >= messages_.size())
                break;
            dropped += 2;
        }
        if (dropped > 0) {
            std::fprintf(stderr, "[context full: dropped the oldest %zu turn(s)]\n", dropped / 2);
        }
        return reencode(dropped, user);
    }

    // The template's ids of the conversation without its first `dropped` messages, plus `user`.
    std::vector<TokenId> encode_with(size_t dropped, const std::string& user) const {
        std::vector<ChatMessage> all;
        if (!system_.empty())
            all.push_back({"system", system_});
        all.insert(all.end(), messages_.begin() + static_cast<std::ptrdiff_t>(dropped),
                   messages_.end());
        all.push_back({"user", user});
        return encode_chat(*lm_.tokenizer, all);
    }

    // Drops the first `dropped` messages and encodes the conversation plus `user` again. The
    // session keeps the cached tokens that encoding starts with (all but its last id at most)
    // when it can go back to them, else starts over; returns the ids to prefill at its pos().
    std::vector<TokenId> reencode(size_t dropped, const std::string& user) {
        std::vector<TokenId> ids = encode_with(dropped, user);
        check_fits(static_cast<int64_t>(ids.size()));
        messages_.erase(messages_.begin(),
                        messages_.begin() + static_cast<std::ptrdiff_t>(dropped));
        pending_.clear();
        size_t keep = 0;
        if (static_cast<int64_t>(cached_.size()) == session_.pos()) {
            const size_t limit = std::min(cached_.size(), ids.empty() ? 0 : ids.size() - 1);
            while (keep < limit && cached_[keep] == ids[keep])
                ++keep;
        }
        if (!session_.rewind(static_cast<int64_t>(keep))) {
            keep = 0;
            session_.reset();
        }
        cached_.resize(keep);
        ids.erase(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(keep));
        return ids;
    }

    LoadedModel& lm_;
    Session session_;
    Sampler sampler_;
    GenerateOptions go_;
    std::string system_;
    bool quiet_;
    std::vector<ChatMessage> messages_;  // complete user/assistant turns (system kept apart)
    std::vector<TokenId> pending_;       // ids decided but not yet fed (last reply's end + EOS)
    std::vector<TokenId> cached_;        // the ids the session holds, when known (else empty)
    ChatFormat format_;
};

enum class ReadResult { kLine, kEof, kInterrupted };

// Reads one line from fd 0 byte by byte so that Ctrl-C (EINTR) is noticed while waiting.
ReadResult read_line(std::string& line) {
    line.clear();
    while (true) {
        char c;
        const ssize_t n = ::read(0, &c, 1);
        if (n == 1) {
            if (c == '\n')
                return ReadResult::kLine;
            line += c;
        } else if (n == 0) {
            return line.empty() ? ReadResult::kEof : ReadResult::kLine;
        } else if (errno == EINTR) {
            if (sigint_flag().exchange(false))
                return ReadResult::kInterrupted;
        } else {
            return ReadResult::kEof;
        }
    }
}

// Reads a whole message: continuation lines ending in '\', or a """ block.
ReadResult read_message(std::string& msg) {
    msg.clear();
    std::string line;
    std::fputs("> ", stdout);
    std::fflush(stdout);
    ReadResult r = read_line(line);
    if (r != ReadResult::kLine)
        return r;
    if (line == "\"\"\"") {
        while (true) {
            std::fputs(". ", stdout);
            std::fflush(stdout);
            r = read_line(line);
            if (r != ReadResult::kLine)
                return r;
            if (line == "\"\"\"")
                return ReadResult::kLine;
            msg += (msg.empty() ? "" : "\n") + line;
        }
    }
    while (!line.empty() && line.back() == '\\') {
        line.pop_back();
        msg += line + "\n";
        std::fputs(". ", stdout);
        std::fflush(stdout);
        r = read_line(line);
        if (r != ReadResult::kLine)
            return r;
    }
    msg += line;
    return ReadResult::kLine;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(Errc::kIo, path + ": cannot open");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

int repl(Chat& chat) {
    std::fputs("chat: type /help for commands, /exit or Ctrl-D to quit\n", stderr);
    std::string msg;
    while (true) {
        const ReadResult r = read_message(msg);
        if (r == ReadResult::kEof) {
            std::fputs("\n", stdout);
            return 0;
        }
        if (r == ReadResult::kInterrupted) {
            if (msg.empty()) {
                std::fputs("\n", stdout);
                return 0;
            }
            std::fputs("\n", stdout);
            continue;
        }
        if (msg.empty())
            continue;
        if (msg[0] == '/') {
            const size_t sp = msg.find(' ');
            const std::string cmd = msg.substr(0, sp);
            const std::string arg = sp == std::string::npos ? "" : msg.substr(sp + 1);
            try {
                if (cmd == "/exit" || cmd == "/quit")
                    return 0;
                if (cmd == "/help") {
                    std::fputs(kReplHelp, stdout);
                } else if (cmd == "/reset") {
                    chat.reset();
                    std::fputs("[conversation reset]\n", stderr);
                } else if (cmd == "/system") {
                    chat.set_system(arg);
                    std::fputs("[system prompt set; conversation reset]\n", stderr);
                } else if (cmd == "/save") {
                    if (arg.empty())
                        throw Error(Errc::kInvalidArgument, "/save needs a file name");
                    const std::string tmp = arg + ".tmp";
                    {
                        std::ofstream out(tmp, std::ios::binary);
                        out << conversation_to_json(chat.messages());
                        if (!out)
                            throw Error(Errc::kIo, arg + ": cannot write");
                    }
                    if (std::rename(tmp.c_str(), arg.c_str()) != 0)
                        throw Error(Errc::kIo, arg + ": cannot write");
                    std::fprintf(stderr, "[saved %zu messages to %s]\n", chat.messages().size(),
                                 arg.c_str());
                } else if (cmd == "/load") {
                    if (arg.empty())
                        throw Error(Errc::kInvalidArgument, "/load needs a file name");
                    chat.load(parse_conversation(read_file(arg)), true);
                    std::fprintf(stderr, "[loaded %zu messages]\n", chat.messages().size());
                } else {
                    std::fprintf(stderr, "unknown command %s (try /help)\n", cmd.c_str());
                }
            } catch (const Error& e) {
                std::fprintf(stderr, "error: %s\n", e.what());
            }
            continue;
        }
        try {
            chat.reply(msg, true);
        } catch (const Error& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            continue;
        }
        std::fputs("\n", stdout);
    }
}

}  // namespace

int cmd_chat(std::span<const std::string> argv) {
    const auto specs = concat({kModelOpts, kChatOpts, kSamplingOpts});
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral chat -m MODEL [--system TEXT] [--guardrails] [-n N] [options]",
                "Chat with an instruct model in the Mistral [INST] format (v1: markers as text,\n"
                "or v3 when the vocabulary has them as special tokens; `mistral info` names it).\n"
                "On a terminal: a REPL (/help inside). Piped: each non-empty line is a user turn\n"
                "(--one: all of stdin).",
                specs);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, specs);
    const bool quiet = args.has("--quiet");
    std::string system;
    if (args.has("--guardrails"))
        system = std::string(kGuardrailPrompt);
    if (auto s = args.get("--system"))
        system += (system.empty() ? "" : "\n\n") + *s;
    if (args.has("--ids") && !args.has("--conversation"))
        throw UsageError("--ids needs --conversation FILE");

    std::vector<ChatMessage> conversation;
    if (auto f = args.get("--conversation")) {
        try {
            conversation = parse_conversation(read_file(*f));
        } catch (const Error& e) {
            throw with_context(e, *f);
        }
        if (!system.empty())
            conversation.insert(conversation.begin(), {"system", system});
    }
    LoadedModel lm = load_model(args, quiet || args.has("--ids"));
    if (args.has("--conversation")) {
        if (args.has("--ids")) {
            const auto ids = encode_chat(*lm.tokenizer, conversation);
            std::string line;
            for (size_t i = 0; i < ids.size(); ++i)
                line += (i ? " " : "") + std::to_string(ids[i]);
            write_stdout(line + "\n");
            return 0;
        }
        validate_conversation(conversation);
        if (conversation.empty() || conversation.back().role != "user") {
            throw Error(Errc::kBadValue,
                        "the conversation must end with a user message to be answered");
        }
        Chat chat(lm, args, "", quiet);
        install_sigint_handler();
        chat.load(conversation, true);
        write_stdout("\n");
        return sigint_flag().load() ? 130 : 0;
    }

    Chat chat(lm, args, system, quiet);
    install_sigint_handler();
    if (::isatty(0))
        return repl(chat);
    if (args.has("--one")) {
        std::ostringstream ss;
        ss << std::cin.rdbuf();
        std::string msg = ss.str();
        if (!msg.empty() && msg.back() == '\n')
            msg.pop_back();
        if (msg.empty())
            throw Error(Errc::kInvalidArgument, "empty message on stdin");
        chat.reply(msg, true);
        write_stdout("\n");
        return sigint_flag().load() ? 130 : 0;
    }
    std::string line;
    bool first = true;
    while (std::getline(std::cin, line)) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        if (!first)
            write_stdout("\n");
        first = false;
        chat.reply(line, true);
        write_stdout("\n");
        if (sigint_flag().load())
            return 130;
    }
    return 0;
}

}  // namespace mistral::cli
