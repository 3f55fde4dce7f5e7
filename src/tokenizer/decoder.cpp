// DecodeIds exactly as sentencepiece 0.1.97 does it (SentencePieceProcessor::Decode):
//  - control pieces (<s>, </s>) decode to nothing; the unknown piece to unk_surface (" ⁇ ");
//  - runs of byte pieces are collected and decoded as UTF-8; every byte that does not start
//    a valid character becomes U+FFFD on its own (the library's rule, not maximal subparts);
//  - U+2581 becomes ' '; the leading U+2581 of the first piece that produces text is the
//    dummy prefix and is dropped (only when add_dummy_prefix or remove_extra_whitespaces);
//    with remove_extra_whitespaces every leading U+2581 run is dropped.
// StreamDecoder runs the same state machine one id at a time and additionally emits the
// complete characters of a byte run as soon as they are decided.
#include <mistral/error.h>
#include <mistral/utf8.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral {

namespace tok {

namespace {

// Emits the decided prefix of `pending` (complete characters, and bytes that can never
// start one) and keeps a trailing incomplete-but-possible character.
void emit_decided_bytes(DecodeState& st, std::string& out) {
    const std::string_view p = st.pending;
    size_t i = 0;
    while (i < p.size()) {
        const std::string_view rest = p.substr(i);
        const Utf8Char c = utf8_decode(rest);
        if (c.valid) {
            out.append(rest.substr(0, c.len));
        } else if (utf8_is_incomplete_prefix(rest)) {
            break;  // more byte pieces may complete it
        } else {
            out.append(kReplacementChar);
        }
        i += c.len;
    }
    if (i > 0)
        st.text_started = true;
    st.pending.erase(0, i);
}

}  // namespace

void decode_finish(DecodeState& st, std::string& out) {
    if (st.pending.empty())
        return;
    utf8_append_replacing(out, st.pending);
    st.pending.clear();
    st.text_started = true;
}

void decode_step(const Tokenizer::Impl& t, DecodeState& st, TokenId id, bool stream,
                 std::string& out) {
    // DecodeIds maps each id to its piece and back (PieceToId), so a piece string that is
    // both reserved and normal decodes as the reserved one.
    id = t.canonical[static_cast<size_t>(id)];
    const int byte = t.byte_value[static_cast<size_t>(id)];
    if (byte >= 0) {
        st.pending += static_cast<char>(byte);
        if (stream)
            emit_decided_bytes(st, out);
        return;
    }
    decode_finish(st, out);
    if (st.bos_ws_seen || st.text_started)
        st.is_bos_ws = false;

    const TokenizerModel& m = t.model;
    const PieceType type = t.type(id);
    st.bos_ws_seen = false;
    if (type == PieceType::kControl)
        return;  // invisible
    if (type == PieceType::kUnknown) {
        out.append(m.unk_surface);
        if (!m.unk_surface.empty())
            st.text_started = true;
        return;
    }
    std::string_view piece = m.pieces[static_cast<size_t>(id)];
    if (st.is_bos_ws && (m.add_dummy_prefix || m.remove_extra_whitespaces)) {
        if (piece.substr(0, kSpaceSymbol.size()) == kSpaceSymbol) {
            piece.remove_prefix(kSpaceSymbol.size());
            // With remove_extra_whitespaces every leading space piece is stripped.
            st.bos_ws_seen = !m.remove_extra_whitespaces;
        }
    }
    const size_t before = out.size();
    for (size_t i = 0; i < piece.size();) {
        if (piece.substr(i, kSpaceSymbol.size()) == kSpaceSymbol) {
            out += ' ';
            i += kSpaceSymbol.size();
        } else {
            out += piece[i];
            ++i;
        }
    }
    if (out.size() > before)
        st.text_started = true;
}

}  // namespace tok

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
    std::string out;
    tok::DecodeState st;
    for (TokenId id : ids) {
        if (id < 0 || static_cast<size_t>(id) >= vocab_size()) {
            throw Error(Errc::kInvalidArgument, "token id " + std::to_string(id) +
                                                        " is out of range [0, " +
                                                        std::to_string(vocab_size()) + ")");
        }
    }
    for (TokenId id : ids)
        tok::decode_step(*impl_, st, id, /*stream=*/false, out);
    tok::decode_finish(st, out);
    return out;
}

StreamDecoder::StreamDecoder(const Tokenizer& tok) : tok_(&tok) {}

std::string StreamDecoder::push(TokenId id) {
    if (id < 0 || static_cast<size_t>(id) >= tok_->vocab_size()) {
        throw Error(Errc::kInvalidArgument, "token id " + std::to_string(id) +
                                                    " is out of range [0, " +
                                                    std::to_string(tok_->vocab_size()) + ")");
    }
    std::string out;
    tok::DecodeState st{std::move(pending_), text_started_, at_start_, bos_ws_seen_};
    tok::decode_step(*tok_->impl_, st, id, /*stream=*/true, out);
    pending_ = std::move(st.pending);
    text_started_ = st.text_started;
    at_start_ = st.is_bos_ws;
    bos_ws_seen_ = st.bos_ws_seen;
    return out;
}

std::string StreamDecoder::flush() {
    std::string out;
    tok::DecodeState st{std::move(pending_), text_started_, at_start_, bos_ws_seen_};
    tok::decode_finish(st, out);
    pending_.clear();
    text_started_ = st.text_started;
    return out;
}

void StreamDecoder::reset() {
    pending_.clear();
    text_started_ = false;
    at_start_ = true;
    bos_ws_seen_ = false;
}

}  // namespace mistral
