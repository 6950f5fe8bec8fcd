#include <monochat/logic/message_format.hpp>

#include <algorithm>
#include <map>
#include <monochat/infra/json_text.hpp>
#include <nlohmann/json.hpp>
#include <tuple>

namespace monochat::logic {

namespace {
using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
}  // namespace

std::string text_body_json(std::string_view text, std::optional<std::uint64_t> reply_to,
                           const std::vector<std::uint64_t>* mentions) {
    std::string out;
    out.reserve(text.size() + 40 + (mentions != nullptr ? mentions->size() * 24 : 0));
    out += '{';
    if (mentions != nullptr) {
        out += R"("mentions":[)";
        for (std::size_t i = 0; i < mentions->size(); ++i) {
            if (i != 0) {
                out += ',';
            }
            out += '"';
            infra::append_decimal(out, (*mentions)[i]);
            out += '"';
        }
        out += "],";
    }
    if (reply_to) {
        out += R"("reply_to":)";
        infra::append_decimal(out, *reply_to);
        out += ',';
    }
    out += R"("text":)";
    infra::append_json_string(out, text);
    out += R"(,"type":"text"})";
    return out;
}

std::string push_message_frame(const storage::stored_message& m) {
    std::string body = message_json(m);
    std::string out;
    out.reserve(body.size() + 32);
    out += R"({"type":"message","message":)";
    out += body;
    out += '}';
    return out;
}

std::string message_json(const storage::stored_message& m, const reaction_viewer* viewer) {
    if (m.state.empty() && m.reactions.empty()) {
        // Nothing changed the message since it was sent (every new message, most of history):
        // the stored body is spliced in as it is, without being parsed again. It was written by
        // logic (messaging_service.cpp, check_body) as a JSON object.
        std::string out;
        out.reserve(m.body.size() + m.conversation_id.size() + m.client_msg_id.size() + 128);
        out += R"({"body":)";
        out += m.body.empty() ? std::string_view("{}") : std::string_view(m.body);
        out += R"(,"client_msg_id":)";
        infra::append_json_string(out, m.client_msg_id);
        out += R"(,"conversation_id":)";
        infra::append_json_string(out, m.conversation_id);
        out += R"(,"message_id":")";
        infra::append_decimal(out, m.message_id);
        out += R"(","sender_id":")";
        infra::append_decimal(out, m.sender_id);
        out += R"(","seq":)";
        infra::append_decimal(out, m.seq);
        out += R"(,"ts":)";
        infra::append_decimal(out, m.ts_ms);
        out += '}';
        return out;
    }
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
        // recalled) describe the current form of a text message. Reactions are not in it: the
        // log keeps their summary (stored_message::reactions).
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
        }
    }
    if (!m.reactions.empty()) {
        json reactions = json::object();
        for (const auto& kind : m.reactions) {
            json users = json::array();
            bool me = false;
            for (const auto& r : kind.first) {
                users.push_back(std::to_string(r.user_id));
                me = me || (viewer != nullptr && r.user_id == viewer->user_id);
            }
            if (!me && viewer != nullptr) {
                me = viewer->reacted.count({m.conversation_id, m.seq, kind.emoji}) != 0;
            }
            reactions[kind.emoji] = {{"count", kind.count}, {"users", std::move(users)}, {"me", me}};
        }
        out["reactions"] = std::move(reactions);
    }
    out["body"] = std::move(body);
    return dump(out);
}

boost::asio::awaitable<result<reaction_viewer>> view_reactions(
    storage::message_log& log, std::uint64_t user_id,
    const std::vector<storage::stored_message>& messages) {
    reaction_viewer viewer;
    viewer.user_id = user_id;
    std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> unknown;
    for (const auto& m : messages) {
        for (const auto& kind : m.reactions) {
            // The summary lists every reactor when it holds `count` of them.
            if (kind.count <= kind.first.size()) {
                continue;
            }
            const bool listed =
                std::any_of(kind.first.begin(), kind.first.end(),
                            [&](const storage::reactor& r) { return r.user_id == user_id; });
            if (!listed) {
                unknown[m.conversation_id].emplace_back(m.seq, kind.emoji);
            }
        }
    }
    for (auto& [conversation_id, keys] : unknown) {
        auto found = co_await log.has_reacted(conversation_id, user_id, keys);
        if (!found) {
            co_return found.error();
        }
        for (std::size_t i = 0; i < keys.size() && i < found->size(); ++i) {
            if ((*found)[i]) {
                viewer.reacted.emplace(conversation_id, keys[i].first, std::move(keys[i].second));
            }
        }
    }
    co_return viewer;
}

}  // namespace monochat::logic
