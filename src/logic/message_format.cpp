#include <monochat/logic/message_format.hpp>

#include <nlohmann/json.hpp>

namespace monochat::logic {

namespace {
using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string message_json(const storage::stored_message& m) {
    // The body was validated as a JSON object when it was sent; a stored body that does not
    // parse (which would be a bug) is shown as an empty object rather than failing a read.
    json body = json::parse(m.body, nullptr, false);
    if (!body.is_object()) {
        body = json::object();
    }
    json out = {
        {"message_id", std::to_string(m.message_id)},
        {"conversation_id", m.conversation_id},
        {"seq", m.seq},
        {"sender_id", std::to_string(m.sender_id)},
        {"client_msg_id", m.client_msg_id},
        {"ts", m.ts_ms},
    };
    if (!m.state.empty()) {
        // The state is an object written by the operation rules: its keys (edited_at, text,
        // recalled, reactions) describe the current form of a text message.
        json state = json::parse(m.state, nullptr, false);
        if (state.is_object()) {
            if (state.value("recalled", false)) {
                body.erase("text");
                out["recalled"] = true;
            } else if (state.contains("text")) {
                body["text"] = state["text"];
            }
            if (state.contains("edited_at")) {
                out["edited_at"] = state["edited_at"];
            }
            if (state.contains("reactions") && !state["reactions"].empty()) {
                out["reactions"] = state["reactions"];
            }
        }
    }
    out["body"] = std::move(body);
    return dump(out);
}

}  // namespace monochat::logic
