// The generation loop (contract in include/mistral/generate.h).
#include <algorithm>
#include <chrono>
#include <optional>

#include <mistral/error.h>
#include <mistral/generate.h>

namespace mistral {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Text that is final except for a suffix that could still grow into a stop string.
class StopFilter {
public:
    explicit StopFilter(const std::vector<std::string>& stop) {
        for (const auto& s : stop) {
            if (!s.empty()) {
                stop_.push_back(s);
            }
        }
    }

    // Appends `text`; returns the byte offset in held() where the earliest stop string starts.
    std::optional<size_t> add(std::string_view text) {
        held_ += text;
        std::optional<size_t> first;
        for (const auto& s : stop_) {
            const size_t at = held_.find(s);
            if (at != std::string::npos && (!first || at < *first)) {
                first = at;
            }
        }
        return first;
    }

    // Removes and returns the text that can no longer be part of a stop string: everything but
    // the longest suffix of held() that is a proper prefix of some stop string. A match can
    // therefore never start inside text already taken.
    std::string take_safe() {
        size_t keep = 0;
        for (const auto& s : stop_) {
            const size_t max_len = std::min(s.size() - 1, held_.size());
            for (size_t len = max_len; len > keep; --len) {
                if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                    keep = len;
                    break;
                }
            }
        }
        std::string out = held_.substr(0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return out;
    }

    std::string take_all() {
        std::string out;
        out.swap(held_);
        return out;
    }

    const std::string& held() const { return held_; }

private:
    std::vector<std::string> stop_;
    std::string held_;  // decoded text not yet passed to the callback
};

}  // namespace

GenerateResult generate(Session& session, Sampler& sampler, const Tokenizer* tokenizer,
                        std::span<const TokenId> prompt, const GenerateOptions& options,
                        const OnToken& on_token) {
    if (prompt.empty()) {
        throw Error(Errc::kInvalidArgument, "generate: empty prompt");
    }
    if (options.max_tokens < -1) {
        throw Error(Errc::kInvalidArgument, "generate: max_tokens must be >= -1, got " +
                                                    std::to_string(options.max_tokens));
    }
    const bool has_stop = std::any_of(options.stop.begin(), options.stop.end(),
                                      [](const std::string& s) { return !s.empty(); });
    if (has_stop && tokenizer == nullptr) {
        throw Error(Errc::kInvalidArgument, "generate: stop strings need a tokenizer");
    }

    GenerateResult res;
    res.prompt_tokens = static_cast<int64_t>(prompt.size());

    // Prefill (throws before computing if the prompt does not fit).
    const auto t_prompt = std::chrono::steady_clock::now();
    std::span<const float> logits = session.prefill(prompt, options.chunk);
    res.prompt_ms = ms_since(t_prompt);

    const auto t_gen = std::chrono::steady_clock::now();
    std::vector<TokenId> history(prompt.begin(), prompt.end());  // the sampler's `recent`
    std::optional<StreamDecoder> decoder;
    if (tokenizer != nullptr) {
        decoder.emplace(*tokenizer);
        if (options.continue_text) {
            // Decode the prompt into the void first: the continuation is then rendered as the
            // tail of DecodeIds(prompt + generated), so its first space is kept.
            for (const TokenId id : prompt) {
                if (id >= 0 && static_cast<size_t>(id) < tokenizer->vocab_size())
                    decoder->push(id);
            }
            decoder->flush();
        }
    }
    StopFilter filter(options.stop);
    const bool use_eos = options.stop_at_eos && tokenizer != nullptr;
    const TokenId eos = use_eos ? tokenizer->eos_id() : -1;
    const auto n_text = tokenizer != nullptr ? tokenizer->vocab_size() : size_t{0};

    int64_t n = 0;
    while (options.max_tokens < 0 || n < options.max_tokens) {
        const TokenId id = sampler.sample(logits, history);
        res.ids.push_back(id);
        history.push_back(id);
        ++n;

        const bool is_eos = use_eos && id == eos;
        const bool is_length = options.max_tokens >= 0 && n >= options.max_tokens;
        const bool is_context = !session.rolling() && session.pos() >= session.capacity();
        const bool last = is_eos || is_length || is_context;

        // Text of this id (EOS and ids beyond the tokenizer's vocabulary have none).
        if (decoder && !is_eos && static_cast<size_t>(id) < n_text) {
            if (const auto at = filter.add(decoder->push(id))) {
                const std::string before = filter.held().substr(0, *at);
                res.text += before;
                if (on_token) {
                    on_token(id, before);  // generation ends here whatever it returns
                }
                res.stop_reason = "stop string";
                break;
            }
        }
        std::string text;
        if (last) {
            // Nothing more will come: release what was held back, unless it completes a stop.
            const auto at = decoder ? filter.add(decoder->flush()) : std::nullopt;
            text = filter.take_all();
            if (at) {
                text.resize(*at);
                res.stop_reason = "stop string";
            }
        } else {
            text = filter.take_safe();
        }
        res.text += text;
        const bool go_on = on_token ? on_token(id, text) : true;
        if (!res.stop_reason.empty()) {
            break;
        }
        if (last) {
            res.stop_reason = is_eos ? "eos" : is_length ? "length" : "context";
            break;
        }
        if (!go_on) {
            res.stop_reason = "callback";
            break;
        }
        logits = session.decode(id);
    }
    if (res.stop_reason.empty()) {
        res.stop_reason = "length";  // max_tokens == 0
    }
    res.gen_ms = ms_since(t_gen);
    return res;
}

}  // namespace mistral
