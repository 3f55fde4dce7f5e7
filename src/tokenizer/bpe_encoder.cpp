// BPE encoding exactly as sentencepiece 0.1.97 does it (bpe_model.cc, Model::SampleEncode
// with alpha = 0, then SentencePieceProcessor::PopulateSentencePieceText for the ids):
//  1. Split the normalized text into symbols: a whole user-defined piece (frozen, never
//     merged) or one UTF-8 character.
//  2. Put every adjacent pair whose concatenation is a mergeable piece (normal,
//     user-defined or unused) into a max-heap keyed by the piece's score; ties go to the
//     leftmost pair. Pop the best pair, merge it, and push the two new pairs it forms with
//     its neighbours. Heap entries are invalidated lazily: an entry is stale when either
//     side was merged away or grew (the lengths no longer add up to the entry's size).
//  3. Symbols that ended on an unused piece are split back along the merge that made them.
//  4. A symbol that is not a piece is unknown: with byte fallback it becomes its UTF-8
//     bytes as <0xXX> pieces; otherwise a run of unknown symbols becomes one unk id.
// O(n log n) in the number of characters; no allocation per symbol.
#include <algorithm>
#include <unordered_map>

#include <mistral/utf8.h>

#include "tokenizer/tokenizer_impl.h"

namespace mistral::tok {

namespace {

struct Symbol {
    uint32_t start;  // byte offset in the normalized text
    uint32_t len;    // bytes; 0 once merged into its left neighbour
    int32_t prev;    // index of the previous live symbol, -1 at the start
    int32_t next;    // index of the next live symbol, -1 at the end
    bool freeze;     // a user-defined piece: never merged
};

struct Pair {
    float score;   // score of the merged piece; larger merges first
    int32_t left;  // symbol indices
    int32_t right;
    uint32_t size;  // byte length of the merged piece, to detect stale entries
};

// std heap order: the "largest" element is on top. Higher score wins; on equal scores the
// smaller left index wins (sentencepiece's SymbolPairComparator).
struct PairLess {
    bool operator()(const Pair& a, const Pair& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

// OneCharLen from the lead byte (the text is valid UTF-8).
size_t char_len(unsigned char lead) {
    static constexpr unsigned char kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

using RevMerge =
        std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

class Emitter {
public:
    Emitter(const Tokenizer::Impl& t, std::vector<TokenId>& ids) : t_(t), ids_(ids) {}

    // PopulateSentencePieceText's id logic for one (piece, id) of the model's output.
    void emit(std::string_view w, TokenId id) {
        const PieceType type = t_.type(id);
        const bool is_unk = type == PieceType::kUnknown;
        if (type == PieceType::kControl) {
            ids_.push_back(id);
        } else if (is_unk && t_.model.byte_fallback) {
            for (char c : w)
                ids_.push_back(t_.byte_id[static_cast<unsigned char>(c)]);
        } else if (!(is_unk && prev_unk_)) {  // a run of unknowns is one unk
            ids_.push_back(id);
        }
        prev_unk_ = is_unk;
    }

    // The resegment lambda: unused pieces are split along the merge that produced them.
    void resegment(std::string_view w, const RevMerge& rev) {
        const TokenId id = t_.piece_to_id(w);
        if (t_.unused[static_cast<size_t>(id)] == 0) {
            emit(w, id);
            return;
        }
        const auto it = rev.find(w);
        if (it == rev.end()) {
            emit(w, id);
            return;
        }
        resegment(it->second.first, rev);
        resegment(it->second.second, rev);
    }

private:
    const Tokenizer::Impl& t_;
    std::vector<TokenId>& ids_;
    bool prev_unk_ = false;
};

}  // namespace

void bpe_encode(const Tokenizer::Impl& t, std::string_view text, std::vector<TokenId>& ids) {
    if (text.empty())
        return;
    const TokenizerModel& m = t.model;

    // 1. Symbols.  symbols: [n_chars]
    std::vector<Symbol> symbols;
    symbols.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t len = 0;
        bool freeze = false;
        if (!t.user.empty()) {
            len = t.user.match(text.substr(i));
            freeze = len > 0;
        }
        if (len == 0)
            len = std::min(char_len(static_cast<unsigned char>(text[i])), text.size() - i);
        const auto idx = static_cast<int32_t>(symbols.size());
        symbols.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(len), idx - 1,
                           i + len < text.size() ? idx + 1 : -1, freeze});
        i += len;
    }

    // 2. Merges.
    std::vector<Pair> heap;
    heap.reserve(symbols.size());
    const bool has_unused = t.any_unused;
    RevMerge rev_merge;
    const auto maybe_add_pair = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0)
            return;
        const Symbol& l = symbols[static_cast<size_t>(left)];
        const Symbol& r = symbols[static_cast<size_t>(right)];
        if (l.freeze || r.freeze)
            return;
        const size_t size = size_t{l.len} + r.len;
        if (size > t.max_piece_bytes)
            return;
        const std::string_view piece = text.substr(l.start, size);
        const PieceIds* e = t.map.find(piece);
        if (e == nullptr || e->merge_id < 0)
            return;
        heap.push_back({m.scores[static_cast<size_t>(e->merge_id)], left, right,
                        static_cast<uint32_t>(size)});
        std::push_heap(heap.begin(), heap.end(), PairLess{});
        if (has_unused && t.unused[static_cast<size_t>(e->merge_id)] != 0) {
            // Last writer wins, as in the library's rev_merge map.
            rev_merge[piece] = {text.substr(l.start, l.len), text.substr(r.start, r.len)};
        }
    };
    // Runs the merge loop over symbols [s0, s1). Pairs that would cross s0 or s1 are never
    // pieces (see `can_split`), so the segment evolves exactly as inside the whole text.
    const auto merge_segment = [&](size_t s0, size_t s1) {
        heap.clear();
        for (size_t i = s0 + 1; i < s1; ++i)
            maybe_add_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
        while (!heap.empty()) {
            std::pop_heap(heap.begin(), heap.end(), PairLess{});
            const Pair top = heap.back();
            heap.pop_back();
            Symbol& l = symbols[static_cast<size_t>(top.left)];
            Symbol& r = symbols[static_cast<size_t>(top.right)];
            if (l.len == 0 || r.len == 0 || l.len + r.len != top.size)
                continue;  // stale
            l.len += r.len;
            l.next = r.next;
            if (r.next >= 0)
                symbols[static_cast<size_t>(r.next)].prev = top.left;
            r.len = 0;
            maybe_add_pair(l.prev, top.left);
            maybe_add_pair(top.left, l.next);
        }
    };
    if (!t.can_split) {
        merge_segment(0, symbols.size());
    } else {
        // Cut at the first safe boundary once a segment has kMinSegment symbols.
        constexpr size_t kMinSegment = 32;
        size_t s0 = 0;
        for (size_t i = s0 + kMinSegment; i < symbols.size(); ++i) {
            const Symbol& a = symbols[i - 1];
            const Symbol& b = symbols[i];
            const bool safe = a.freeze || b.freeze ||
                              !t.char_pair_in_pieces(utf8_decode(text.substr(a.start, a.len)).cp,
                                                     utf8_decode(text.substr(b.start, b.len)).cp);
            if (!safe)
                continue;
            merge_segment(s0, i);
            s0 = i;
            i = s0 + kMinSegment - 1;  // the loop's ++i makes it s0 + kMinSegment
        }
        merge_segment(s0, symbols.size());
    }

    // 3 + 4. Output.
    Emitter out(t, ids);
    for (int32_t i = 0; i != -1; i = symbols[static_cast<size_t>(i)].next) {
        const Symbol& s = symbols[static_cast<size_t>(i)];
        out.resegment(text.substr(s.start, s.len), rev_merge);
    }
}

}  // namespace mistral::tok
