// parse_sentencepiece_model: sentencepiece_model.proto (ModelProto) read with our own
// protobuf reader. Field numbers are those of sentencepiece v0.1.97; unknown fields are
// skipped, as protobuf requires. Defaults are the proto2 defaults, not TokenizerModel's.
#include <mistral/error.h>
#include <mistral/tokenizer.h>

#include "tokenizer/protobuf_reader.h"
#include "tokenizer/tokenizer_impl.h"

namespace mistral {

namespace {

constexpr std::string_view kWhat = "tokenizer.model";

void parse_piece(std::span<const std::byte> msg, TokenizerModel& m) {
    pb::Reader r(msg, std::string(kWhat) + ": piece " + std::to_string(m.pieces.size()));
    std::string piece;
    float score = 0.0f;
    int32_t type = 1;  // NORMAL
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                piece = f.as_string("SentencePiece.piece");
                break;
            case 2:
                score = f.as_float("SentencePiece.score");
                break;
            case 3:
                type = f.as_int32("SentencePiece.type");
                break;
            default:
                break;
        }
    }
    if (type < 1 || type > 6) {
        throw Error(Errc::kBadValue, std::string(kWhat) + ": piece " +
                                             std::to_string(m.pieces.size()) +
                                             " has unknown type " + std::to_string(type));
    }
    m.pieces.push_back(std::move(piece));
    m.scores.push_back(score);
    m.types.push_back(static_cast<PieceType>(type));
}

void parse_trainer_spec(std::span<const std::byte> msg, TokenizerModel& m) {
    pb::Reader r(msg, std::string(kWhat) + ": trainer_spec");
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 3: {
                const int32_t k = f.as_int32("TrainerSpec.model_type");
                if (k < 1 || k > 4) {
                    throw Error(Errc::kBadValue,
                                std::string(kWhat) + ": unknown model_type " + std::to_string(k));
                }
                m.kind = static_cast<TokenizerModel::Kind>(k);
                break;
            }
            case 20:
                m.max_piece_length = f.as_int32("TrainerSpec.max_sentencepiece_length");
                break;
            case 21:
                m.split_by_unicode_script = f.as_bool("TrainerSpec.split_by_unicode_script");
                break;
            case 22:
                m.split_by_whitespace = f.as_bool("TrainerSpec.split_by_whitespace");
                break;
            case 23:
                m.split_by_number = f.as_bool("TrainerSpec.split_by_number");
                break;
            case 24:
                m.treat_whitespace_as_suffix = f.as_bool("TrainerSpec.treat_whitespace_as_suffix");
                break;
            case 25:
                m.split_digits = f.as_bool("TrainerSpec.split_digits");
                break;
            case 26:
                m.allow_whitespace_only_pieces =
                        f.as_bool("TrainerSpec.allow_whitespace_only_pieces");
                break;
            case 35:
                m.byte_fallback = f.as_bool("TrainerSpec.byte_fallback");
                break;
            case 40:
                m.unk_id = f.as_int32("TrainerSpec.unk_id");
                break;
            case 41:
                m.bos_id = f.as_int32("TrainerSpec.bos_id");
                break;
            case 42:
                m.eos_id = f.as_int32("TrainerSpec.eos_id");
                break;
            case 43:
                m.pad_id = f.as_int32("TrainerSpec.pad_id");
                break;
            case 44:
                m.unk_surface = f.as_string("TrainerSpec.unk_surface");
                break;
            default:
                break;
        }
    }
}

void parse_normalizer_spec(std::span<const std::byte> msg, TokenizerModel& m) {
    pb::Reader r(msg, std::string(kWhat) + ": normalizer_spec");
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                m.normalizer_name = f.as_string("NormalizerSpec.name");
                break;
            case 2:
                m.precompiled_charsmap = f.as_string("NormalizerSpec.precompiled_charsmap");
                break;
            case 3:
                m.add_dummy_prefix = f.as_bool("NormalizerSpec.add_dummy_prefix");
                break;
            case 4:
                m.remove_extra_whitespaces = f.as_bool("NormalizerSpec.remove_extra_whitespaces");
                break;
            case 5:
                m.escape_whitespaces = f.as_bool("NormalizerSpec.escape_whitespaces");
                break;
            default:
                break;
        }
    }
}

// The denormalizer only matters when it carries a charsmap, which we cannot apply.
void check_denormalizer_spec(std::span<const std::byte> msg) {
    pb::Reader r(msg, std::string(kWhat) + ": denormalizer_spec");
    pb::Field f;
    while (r.next(f)) {
        if (f.number == 2 && !f.as_message("NormalizerSpec.precompiled_charsmap").empty()) {
            throw Error(Errc::kUnsupported,
                        std::string(kWhat) +
                                ": a denormalization rule (precompiled charsmap) is not supported");
        }
    }
}

}  // namespace

TokenizerModel parse_sentencepiece_model(std::span<const std::byte> proto) {
    TokenizerModel m;
    // proto2 defaults of TrainerSpec / NormalizerSpec (they differ from TokenizerModel's).
    m.kind = TokenizerModel::Kind::kUnigram;
    m.byte_fallback = false;
    m.remove_extra_whitespaces = true;
    m.normalizer_name.clear();

    pb::Reader r(proto, std::string(kWhat));
    pb::Field f;
    while (r.next(f)) {
        switch (f.number) {
            case 1:
                parse_piece(f.as_message("ModelProto.pieces"), m);
                break;
            case 2:
                parse_trainer_spec(f.as_message("ModelProto.trainer_spec"), m);
                break;
            case 3:
                parse_normalizer_spec(f.as_message("ModelProto.normalizer_spec"), m);
                break;
            case 5:
                check_denormalizer_spec(f.as_message("ModelProto.denormalizer_spec"));
                break;
            default:
                break;
        }
    }
    // sentencepiece takes the unknown id from the piece types, not from trainer_spec.unk_id.
    for (size_t i = 0; i < m.types.size(); ++i) {
        if (m.types[i] == PieceType::kUnknown) {
            m.unk_id = static_cast<TokenId>(i);
            break;
        }
    }
    tok::check_model(m, kWhat);
    return m;
}

}  // namespace mistral
