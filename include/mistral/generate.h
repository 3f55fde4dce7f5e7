// The generation loop: prefill the prompt in chunks, then sample / decode one token at a time,
// streaming the text through a callback, until EOS, a length limit, a stop string, the
// callback, or a full (non-rolling) context stops it. The library never prints: everything
// goes through the callback.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mistral/sampler.h>
#include <mistral/session.h>
#include <mistral/tokenizer.h>

namespace mistral {

// Called once per generated id, in order (EOS included), with the text that became final with
// it (often empty: an incomplete UTF-8 character or a possible stop-string prefix is held
// back). Return false to stop after this token.
using OnToken = std::function<bool(TokenId id, std::string_view text)>;

struct GenerateOptions {
    int64_t max_tokens = -1;  // generated ids at most; -1 = no limit (until EOS, stop, callback)
    int64_t chunk = 0;        // prefill chunk (tokens per forward); 0 = session.default_chunk()
    // Generation stops when the text contains one of these (empty strings are ignored). The
    // stop string and anything after it are never passed to the callback. Needs a tokenizer.
    std::vector<std::string> stop;
    bool stop_at_eos = true;
    // The text continues the prompt's (completion): the first generated piece keeps its
    // leading space, as in DecodeIds(prompt + ids). False for a reply decoded on its own (chat),
    // where a leading dummy-prefix space is dropped.
    bool continue_text = true;  // stop at the tokenizer's eos id (no EOS stop without a tokenizer)
};

struct GenerateResult {
    std::vector<TokenId> ids;  // every sampled id, including a final EOS or stop-string tokens
    std::string text;          // the concatenation of all text passed to the callback
    // "eos", "length" (max_tokens), "callback", "stop string", or "context" (a non-rolling
    // cache is full: the last id could not be fed).
    std::string stop_reason;
    int64_t prompt_tokens = 0;
    double prompt_ms = 0;  // wall time of the prefill
    double gen_ms = 0;     // wall time of the sampling/decoding loop (callback time included)
};

// Prefills `prompt` at session.pos() (continuing a conversation works: pass only the new ids)
// and generates. The recent-token history the sampler sees for the repetition penalty is
// prompt + generated ids. On return the session holds every id except the last sampled one
// (which was never fed): session.pos() == pos_before + prompt.size() + ids.size() - 1 when ids
// is non-empty. Text: the last callback (for eos / length / context) also carries everything
// held back (StreamDecoder::flush()); after a "callback" stop held-back text is dropped; at a
// stop string, the token that completes it gets the text before the stop string.
// Throws Error(kInvalidArgument) for an empty prompt, max_tokens < -1, or stop strings without
// a tokenizer; the session's errors (kInvalidArgument for bad ids, kContextOverflow when the
// prompt does not fit) propagate. A null `on_token` is allowed (collect the result only).
GenerateResult generate(Session& session, Sampler& sampler, const Tokenizer* tokenizer,
                        std::span<const TokenId> prompt, const GenerateOptions& options,
                        const OnToken& on_token);

}  // namespace mistral
