// `mistral arena`: pairwise battles for ranking models, the way Chatbot Arena does it.
//   mistral arena play -A MODEL -B MODEL [-f PROMPTS] [--log FILE]: for each prompt, two
//     anonymous answers side by side, a vote (A / B / tie / bad), the names revealed, and the
//     battle appended to a JSON-lines log in LMSYS's fields.
//   mistral arena ratings LOG [--k 4] [--scale 400] [--base 10] [--init 1000] [--bt]
//     [--bootstrap N]: a leaderboard by online Elo, or Bradley-Terry with bootstrap intervals.
// See docs/EVALUATION.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>

#include <mistral/chat.h>
#include <mistral/elo.h>
#include <mistral/error.h>
#include <mistral/generate.h>
#include <mistral/json.h>
#include <mistral/kernels.h>
#include <mistral/model.h>
#include <mistral/sampler.h>
#include <mistral/session.h>
#include <mistral/thread_pool.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"

namespace mistral::cli {

namespace {

constexpr OptSpec kPlayOpts[] = {
        {"--model-a,-A", "FILE", "first model"},
        {"--model-b,-B", "FILE", "second model"},
        {"--name-a", "NAME", "name of the first model in the log (default: its file stem)"},
        {"--name-b", "NAME", "name of the second model in the log (default: its file stem)"},
        {"--file,-f", "FILE",
         "prompts, one a line (then votes come from stdin); default: "
         "prompts from stdin, votes from the terminal"},
        {"--log", "FILE", "battle log to append to (default arena.jsonl)"},
        {"--n-predict,-n", "N", "tokens per answer at most (default 128)"},
        {"--width", "N", "total width of the side-by-side view (default 100)"},
        {"--temp", "T", "temperature (default 0.8; 0 = greedy)"},
        {"--seed", "S", "seed for the A/B order and the sampling (default 1)"},
        {"--threads,-t", "N", "threads (default: physical cores)"},
};

constexpr OptSpec kRatingsOpts[] = {
        {"--k", "K", "online Elo step (default 4)"},
        {"--scale", "S", "rating points per factor `base` in odds (default 400)"},
        {"--base", "B", "odds base (default 10)"},
        {"--init", "R", "initial rating / Bradley-Terry anchor value (default 1000)"},
        {"--bt", "", "Bradley-Terry maximum likelihood instead of online Elo"},
        {"--bootstrap", "N", "Bradley-Terry bootstrap rounds for 95% intervals (implies --bt)"},
        {"--seed", "S", "bootstrap seed (default 1)"},
        {"--prior", "L", "Bradley-Terry L2 prior strength (default 0.001; 0 = plain MLE)"},
        {"--anchor", "MODEL", "give this model the --init rating (default: the mean)"},
        {"--json", "", "print the leaderboard as JSON"},
};

// One side of the arena: a model, its tokenizer and a session.
struct Player {
    std::string name;
    std::unique_ptr<Model> model;
    std::unique_ptr<Tokenizer> tok;
    std::unique_ptr<Session> session;
};

Player load_player(const std::string& path, const std::string& name, ThreadPool& pool) {
    Player p;
    p.name = name.empty() ? std::filesystem::path(path).stem().string() : name;
    p.model = Model::load(path);
    p.tok = std::make_unique<Tokenizer>(deserialize_tokenizer(p.model->tokenizer_blob()));
    SessionOptions so;
    so.pool = &pool;
    p.session = std::make_unique<Session>(*p.model, select_kernels(), so);
    return p;
}

std::string answer(Player& p, const std::string& prompt, const SamplerParams& sp,
                   int64_t n_predict) {
    const std::vector<TokenId> ids = encode_chat(*p.tok, {ChatMessage{"user", prompt}});
    p.session->reset();
    Sampler sampler(sp);
    GenerateOptions go;
    go.max_tokens = n_predict;
    return generate(*p.session, sampler, p.tok.get(), ids, go, nullptr).text;
}

// Code points in a UTF-8 string (display width, near enough for a terminal view).
size_t width_of(std::string_view s) {
    size_t n = 0;
    for (unsigned char c : s) {
        n += (c & 0xC0) != 0x80;
    }
    return n;
}

// Byte length of the longest prefix of `s` with at most `w` code points.
size_t prefix_bytes(std::string_view s, size_t w) {
    size_t n = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && n++ == w) {
            break;
        }
    }
    return i;
}

// Word-wraps `text` to lines of at most `w` code points (long words are cut).
std::vector<std::string> wrap(std::string_view text, size_t w) {
    std::vector<std::string> lines;
    std::istringstream paras{std::string(text)};
    for (std::string para; std::getline(paras, para);) {
        std::string line;
        std::istringstream words(para);
        for (std::string word; words >> word;) {
            while (width_of(word) > w) {
                if (!line.empty()) {
                    lines.push_back(line);
                    line.clear();
                }
                const size_t cut = prefix_bytes(word, w);
                lines.push_back(word.substr(0, cut));
                word.erase(0, cut);
            }
            if (!line.empty() && width_of(line) + 1 + width_of(word) > w) {
                lines.push_back(line);
                line.clear();
            }
            line += (line.empty() ? "" : " ") + word;
        }
        lines.push_back(line);
    }
    return lines;
}

std::string side_by_side(const std::string& a, const std::string& b, size_t total) {
    const size_t w = std::max<size_t>(10, (total - 3) / 2);
    std::vector<std::string> la = wrap(a, w), lb = wrap(b, w);
    la.insert(la.begin(), {"Model A", std::string(w, '-')});
    lb.insert(lb.begin(), {"Model B", std::string(w, '-')});
    std::string out;
    for (size_t i = 0; i < std::max(la.size(), lb.size()); ++i) {
        std::string left = i < la.size() ? la[i] : "";
        left.append(w - std::min(w, width_of(left)), ' ');
        out += left + " | " + (i < lb.size() ? lb[i] : "") + "\n";
    }
    return out;
}

// A vote line -> winner; false if it is not one.
bool parse_vote(std::string v, Winner* w) {
    std::transform(v.begin(), v.end(), v.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    v.erase(0, v.find_first_not_of(" \t\r"));
    v.erase(v.find_last_not_of(" \t\r") + 1);
    if (v == "a") {
        *w = Winner::kModelA;
    } else if (v == "b") {
        *w = Winner::kModelB;
    } else if (v == "tie" || v == "t") {
        *w = Winner::kTie;
    } else if (v == "bad" || v == "both bad" || v == "bothbad") {
        *w = Winner::kBothBad;
    } else {
        return false;
    }
    return true;
}

int arena_play(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help("mistral arena play -A MODEL -B MODEL [-f PROMPTS] [--log FILE]",
                                 "Blind side-by-side battles; votes are appended to a log.",
                                 kPlayOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kPlayOpts, 0);
    const auto pa = args.get("--model-a"), pb = args.get("--model-b");
    if (!pa || !pb) {
        throw UsageError("two models needed (-A MODEL -B MODEL)");
    }
    const std::string log_path = args.get_or("--log", "arena.jsonl");
    const int64_t n_predict = args.get_int("--n-predict", 128, 1, int64_t{1} << 20);
    const int64_t width = args.get_int("--width", 100, 24, 1000);
    const uint64_t seed = static_cast<uint64_t>(args.get_int("--seed", 1, 0, INT64_MAX));
    SamplerParams sp;
    sp.temperature = static_cast<float>(args.get_real("--temp", 0.8, 0.0, 100.0));

    // Prompts from -f (votes from stdin), or from stdin (votes from the terminal).
    std::ifstream prompt_file, tty;
    std::istream* prompts = &std::cin;
    std::istream* votes = &std::cin;
    if (const auto f = args.get("--file")) {
        prompt_file.open(*f);
        if (!prompt_file) {
            throw Error(Errc::kIo, *f + ": cannot open");
        }
        prompts = &prompt_file;
    } else {
        tty.open("/dev/tty");
        if (!tty) {
            throw Error(Errc::kIo, "/dev/tty: cannot open for votes (give prompts with -f)");
        }
        votes = &tty;
    }
    ThreadPool pool(static_cast<size_t>(
            args.get_int("--threads", static_cast<int64_t>(physical_cores()), 1, 256)));
    Player p1 = load_player(*pa, args.get_or("--name-a", ""), pool);
    Player p2 = load_player(*pb, args.get_or("--name-b", ""), pool);
    if (p1.name == p2.name) {
        p1.name = *pa;
        p2.name = *pb;
        if (p1.name == p2.name) {
            throw UsageError("the two models must differ (or give --name-a / --name-b)");
        }
    }
    std::ofstream log(log_path, std::ios::app);
    if (!log) {
        throw Error(Errc::kIo, log_path + ": cannot open for appending");
    }
    Xoshiro256 order(seed);
    int64_t n_battles = 0, round = 0;
    for (std::string prompt; std::getline(*prompts, prompt);) {
        if (prompt.find_first_not_of(" \t\r") == std::string::npos) {
            continue;
        }
        ++round;
        sp.seed = seed + static_cast<uint64_t>(round);
        const std::string ans1 = answer(p1, prompt, sp, n_predict);
        const std::string ans2 = answer(p2, prompt, sp, n_predict);
        const bool swap = (order.next_u64() >> 63) != 0;  // which model is shown as A
        Player& a = swap ? p2 : p1;
        Player& b = swap ? p1 : p2;
        const std::string& ans_a = swap ? ans2 : ans1;
        const std::string& ans_b = swap ? ans1 : ans2;
        std::cout << "\n=== Prompt " << round << ": " << prompt << "\n\n"
                  << side_by_side(ans_a, ans_b, static_cast<size_t>(width));
        Winner w{};
        bool voted = false;
        for (std::string v;;) {
            std::cout << "Which is better? [A/B/tie/bad]: " << std::flush;
            if (!std::getline(*votes, v)) {
                break;
            }
            if ((voted = parse_vote(v, &w))) {
                break;
            }
            std::cout << "Please answer A, B, tie or bad.\n";
        }
        if (!voted) {
            std::cout << "\n";
            std::cerr << "mistral arena: no more votes; stopping\n";
            break;
        }
        std::cout << "Model A was " << a.name << ", model B was " << b.name << ".\n";
        Json rec = Json::object();
        rec.set("model_a", a.name);
        rec.set("model_b", b.name);
        rec.set("prompt", prompt);
        rec.set("answer_a", ans_a);
        rec.set("answer_b", ans_b);
        rec.set("winner", winner_name(w));
        rec.set("tstamp",
                std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                        .count());
        log << rec.dump() << "\n" << std::flush;
        if (!log) {
            throw Error(Errc::kIo, log_path + ": write failed");
        }
        ++n_battles;
    }
    std::cout << n_battles << " battle" << (n_battles == 1 ? "" : "s") << " appended to "
              << log_path << "\n";
    return 0;
}

int arena_ratings(std::span<const std::string> argv) {
    if (wants_help(argv)) {
        std::cout << format_help(
                "mistral arena ratings LOG [--k 4] [--scale 400] [--base 10] [--init 1000] "
                "[--bt] [--bootstrap N]",
                "Leaderboard from a battle log: online Elo, or Bradley-Terry with bootstrap "
                "confidence intervals.",
                kRatingsOpts);
        return 0;
    }
    const ParsedArgs args = parse_args(argv, kRatingsOpts, 1);
    if (args.positional().empty()) {
        throw UsageError("no battle log given (mistral arena ratings LOG)");
    }
    const std::string path = args.positional()[0];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw Error(Errc::kIo, path + ": cannot open");
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<Battle> battles;
    try {
        battles = parse_battle_log(text);
    } catch (const Error& e) {
        throw with_context(e, path);
    }
    if (battles.empty()) {
        throw Error(Errc::kBadValue, path + ": no battles");
    }
    EloScale s;
    s.scale = args.get_real("--scale", 400, 1e-9, 1e9);
    s.base = args.get_real("--base", 10, 1.000001, 1e9);
    s.init = args.get_real("--init", 1000, -1e12, 1e12);
    const int64_t rounds = args.get_int("--bootstrap", 0, 1, 1000000);
    const bool bt = args.has("--bt") || rounds > 0;
    std::vector<Rating> r;
    if (bt) {
        BtOptions o;
        o.scale = s;
        o.prior = args.get_real("--prior", 1e-3, 0, 1e6);
        o.anchor = args.get_or("--anchor", "");
        r = rounds > 0 ? bradley_terry_bootstrap(
                                 battles, o, rounds,
                                 static_cast<uint64_t>(args.get_int("--seed", 1, 0, INT64_MAX)))
                       : bradley_terry(battles, o);
    } else {
        r = online_elo(battles, args.get_real("--k", 4, 1e-9, 1e9), s);
    }
    std::stable_sort(r.begin(), r.end(),
                     [](const Rating& x, const Rating& y) { return x.rating > y.rating; });
    if (args.has("--json")) {
        Json list = Json::array();
        for (const Rating& x : r) {
            Json j = Json::object();
            j.set("model", x.model);
            j.set("rating", x.rating);
            if (rounds > 0) {
                j.set("lower", x.lower);
                j.set("upper", x.upper);
            }
            j.set("battles", x.battles);
            j.set("wins", x.wins);
            list.push_back(std::move(j));
        }
        Json out = Json::object();
        out.set("method", bt ? "bradley-terry" : "online-elo");
        out.set("battles", static_cast<int64_t>(battles.size()));
        out.set("ratings", std::move(list));
        std::cout << out.dump() << "\n";
        return 0;
    }
    std::cout << (bt ? "Bradley-Terry" : "online Elo") << " ratings from " << battles.size()
              << " battles\n";
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-4s %-32s %10s %22s %8s %8s\n", "rank", "model", "rating",
                  rounds > 0 ? "95% CI" : "", "battles", "wins");
    std::cout << buf;
    for (size_t i = 0; i < r.size(); ++i) {
        char ci[64] = "";
        if (rounds > 0) {
            std::snprintf(ci, sizeof ci, "[%.1f, %.1f]", r[i].lower, r[i].upper);
        }
        std::snprintf(buf, sizeof buf, "%-4zu %-32s %10.2f %22s %8lld %8.1f\n", i + 1,
                      r[i].model.c_str(), r[i].rating, ci, static_cast<long long>(r[i].battles),
                      r[i].wins);
        std::cout << buf;
    }
    return 0;
}

}  // namespace

int cmd_arena(std::span<const std::string> argv) {
    const std::string sub = argv.empty() ? "" : argv[0];
    if (sub == "play") {
        return arena_play(argv.subspan(1));
    }
    if (sub == "ratings") {
        return arena_ratings(argv.subspan(1));
    }
    if (sub == "--help" || sub == "-h") {
        std::cout << "usage: mistral arena play -A MODEL -B MODEL [-f PROMPTS] [--log FILE]\n"
                     "       mistral arena ratings LOG [--bt] [--bootstrap N] ...\n"
                     "(mistral arena play --help / ratings --help for the options)\n";
        return 0;
    }
    throw UsageError("expected 'play' or 'ratings' (mistral arena --help)");
}

}  // namespace mistral::cli
