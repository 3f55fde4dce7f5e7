// Hand-built tokenizer models for unit tests whose expected ids are worked out by hand from
// the sentencepiece algorithm (see the comments at each test).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <mistral/tokenizer.h>

namespace mistral::test {

struct PieceSpec {
    std::string piece;
    float score = 0.0f;
    PieceType type = PieceType::kNormal;
};

// <unk>=0, <s>=1, </s>=2, then (with byte_fallback) <0x00>..<0xFF> = 3..258, then `extra`
// in order.
inline TokenizerModel make_model(const std::vector<PieceSpec>& extra, bool byte_fallback) {
    TokenizerModel m;
    m.kind = TokenizerModel::Kind::kBpe;
    m.byte_fallback = byte_fallback;
    const auto add = [&m](std::string p, float s, PieceType t) {
        m.pieces.push_back(std::move(p));
        m.scores.push_back(s);
        m.types.push_back(t);
    };
    add("<unk>", 0, PieceType::kUnknown);
    add("<s>", 0, PieceType::kControl);
    add("</s>", 0, PieceType::kControl);
    if (byte_fallback) {
        static const char kHex[] = "0123456789ABCDEF";
        for (int b = 0; b < 256; ++b)
            add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, PieceType::kByte);
    }
    for (const auto& e : extra)
        add(e.piece, e.score, e.type);
    return m;
}

inline constexpr TokenId kFirstExtra = 3 + 256;  // first `extra` id with byte fallback

}  // namespace mistral::test
