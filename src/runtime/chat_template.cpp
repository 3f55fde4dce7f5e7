// Mistral Instruct prompt formats ([INST] ... [/INST]), following mistral-common's instruct
// tokenizers: V1 (markers as text) and V2/V3 (markers as control ids). Every segment is tokenized
// on its own (so the dummy-prefix space appears at the start of each), assistant turns end with
// EOS.
#include <mistral/chat.h>
#include <mistral/error.h>
#include <mistral/json.h>

namespace mistral {

std::vector<ChatMessage> parse_conversation(std::string_view json_text) {
    const Json doc = Json::parse(json_text);
    const Json* list = &doc;
    if (doc.is_object()) {
        list = doc.find("messages");
        if (list == nullptr)
            throw Error(Errc::kBadValue, "conversation object has no \"messages\" list");
    }
    if (!list->is_array())
        throw Error(Errc::kBadValue, "a conversation must be a list of messages");
    std::vector<ChatMessage> out;
    for (size_t i = 0; i < list->as_array().size(); ++i) {
        const Json& m = list->as_array()[i];
        const std::string where = "message " + std::to_string(i + 1);
        if (!m.is_object())
            throw Error(Errc::kBadValue, where + " is not an object");
        const Json* role = m.find("role");
        const Json* content = m.find("content");
        if (role == nullptr || !role->is_string())
            throw Error(Errc::kBadValue, where + " has no string \"role\"");
        if (content == nullptr || !content->is_string()) {
            throw Error(Errc::kBadValue, where + " has no string \"content\"");
        }
        const std::string& r = role->as_string();
        if (r != "system" && r != "user" && r != "assistant") {
            throw Error(Errc::kBadValue,
                        where + " has unknown role '" + r + "' (system, user, assistant)");
        }
        out.push_back({r, content->as_string()});
    }
    return out;
}

std::string conversation_to_json(const std::vector<ChatMessage>& messages) {
    Json list = Json::array();
    for (const auto& m : messages) {
        Json o = Json::object();
        o.set("role", m.role);
        o.set("content", m.content);
        list.push_back(std::move(o));
    }
    Json doc = Json::object();
    doc.set("messages", std::move(list));
    return doc.dump(2) + "\n";
}

void validate_conversation(const std::vector<ChatMessage>& messages) {
    size_t i = 0;
    while (i < messages.size() && messages[i].role == "system")
        ++i;
    bool expect_user = true;
    for (; i < messages.size(); ++i) {
        const std::string& r = messages[i].role;
        const std::string where = "message " + std::to_string(i + 1);
        if (r == "system")
            throw Error(Errc::kBadValue, where + ": system messages must come first");
        if (expect_user && r != "user")
            throw Error(Errc::kBadValue, where + ": expected a user turn, got " + r);
        if (!expect_user && r != "assistant") {
            throw Error(Errc::kBadValue, where + ": expected an assistant turn, got " + r);
        }
        expect_user = !expect_user;
    }
}

namespace {

constexpr std::string_view kBeginInst = "[INST]", kEndInst = "[/INST]";

std::vector<TokenId> user_turn(const Tokenizer& tok, const std::optional<InstMarkers>& inst,
                               std::string_view content, std::string_view system) {
    std::string text;
    if (!system.empty()) {
        text += system;
        text += "\n\n";
    }
    text += content;
    if (inst) {
        std::vector<TokenId> ids = {inst->begin};
        const std::vector<TokenId> body = tok.encode(text);
        ids.insert(ids.end(), body.begin(), body.end());
        ids.push_back(inst->end);
        return ids;
    }
    return tok.encode(std::string(kBeginInst) + " " + text + " " + std::string(kEndInst));
}

}  // namespace

std::optional<InstMarkers> inst_markers(const Tokenizer& tok) {
    const TokenizerModel& m = tok.model();
    TokenId begin = -1, end = -1;
    for (size_t i = 0; i < m.size(); ++i) {
        if (m.types[i] != PieceType::kControl && m.types[i] != PieceType::kUserDefined)
            continue;
        if (m.pieces[i] == kBeginInst)
            begin = static_cast<TokenId>(i);
        else if (m.pieces[i] == kEndInst)
            end = static_cast<TokenId>(i);
    }
    if (begin < 0 || end < 0)
        return std::nullopt;
    return InstMarkers{begin, end};
}

ChatFormat chat_format(const Tokenizer& tok) {
    return inst_markers(tok) ? ChatFormat::kV3 : ChatFormat::kV1;
}

std::string_view chat_format_name(ChatFormat f) {
    return f == ChatFormat::kV3 ? "v3" : "v1";
}

std::vector<TokenId> encode_user_turn(const Tokenizer& tok, std::string_view content,
                                      std::string_view system) {
    return user_turn(tok, inst_markers(tok), content, system);
}

std::vector<TokenId> encode_chat(const Tokenizer& tok, const std::vector<ChatMessage>& messages) {
    validate_conversation(messages);
    std::string system;
    for (const auto& m : messages) {
        if (m.role != "system")
            break;
        if (!system.empty())
            system += "\n\n";
        system += m.content;
    }
    const std::optional<InstMarkers> inst = inst_markers(tok);
    // The user turn that carries the system prompt: the first (V1) or the last (V2/V3).
    size_t system_turn = messages.size();
    for (size_t i = 0; i < messages.size(); ++i) {
        if (messages[i].role != "user")
            continue;
        system_turn = i;
        if (!inst)
            break;
    }
    std::vector<TokenId> ids = {tok.bos_id()};
    for (size_t i = 0; i < messages.size(); ++i) {
        const ChatMessage& m = messages[i];
        if (m.role == "system")
            continue;
        std::vector<TokenId> seg;
        if (m.role == "user") {
            seg = user_turn(tok, inst, m.content,
                            i == system_turn ? std::string_view(system) : std::string_view());
        } else {
            seg = tok.encode(m.content);
            seg.push_back(tok.eos_id());
        }
        ids.insert(ids.end(), seg.begin(), seg.end());
    }
    return ids;
}

}  // namespace mistral
