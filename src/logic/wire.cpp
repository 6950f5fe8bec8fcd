#include <monochat/logic/wire.hpp>

#include "logic/wire_json.hpp"

namespace monochat::logic {

namespace wire {

json object(const user_info& u) {
    if (u.deleted) {
        return {{"user_id", std::to_string(u.user_id)},
                {"deleted", true},
                {"display_name", u.display_name}};
    }
    return {{"user_id", std::to_string(u.user_id)},
            {"username", u.username},
            {"display_name", u.display_name},
            {"guest", u.guest},
            {"bot", u.bot},
            {"online", u.online},
            {"avatar_file_id",
             u.avatar_file_id ? json(std::to_string(*u.avatar_file_id)) : json(nullptr)}};
}

json object(const friend_request_info& r) {
    return {{"request_id", std::to_string(r.request_id)},
            {"from_user_id", std::to_string(r.from_user_id)},
            {"to_user_id", std::to_string(r.to_user_id)},
            {"note", r.note},
            {"status", r.status},
            {"ts", r.ts}};
}

json object(const group_info& g) {
    return {{"group_id", std::to_string(g.group_id)},
            {"conversation_id", group_conversation_id(g.group_id)},
            {"name", g.name},
            {"owner_id", std::to_string(g.owner_id)},
            {"public", g.is_public},
            {"member_count", g.member_count},
            {"description", g.description}};
}

json object(const member_info& m) {
    return {{"user_id", std::to_string(m.user_id)}, {"role", m.role}};
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace wire

std::string group_conversation_id(std::uint64_t group_id) {
    return "group:" + std::to_string(group_id);
}

std::string to_json(const user_info& u) { return wire::dump(wire::object(u)); }
std::string to_json(const friend_request_info& r) { return wire::dump(wire::object(r)); }
std::string to_json(const group_info& g) { return wire::dump(wire::object(g)); }
std::string to_json(const member_info& m) { return wire::dump(wire::object(m)); }

std::string to_json(const conversation_info& c) {
    wire::json j = {{"conversation_id", c.conversation_id},
                    {"kind", c.kind},
                    {"title", c.title},
                    {"last_seq", c.last_seq},
                    {"read_seq", c.read_seq},
                    {"unread", c.unread},
                    {"mentions_unread", c.mentions_unread},
                    {"muted_until", c.muted_until_ms}};
    if (c.kind == "group") {
        j["group_id"] = std::to_string(c.group_id);
    } else if (c.kind == "direct") {
        j["peer_id"] = std::to_string(c.peer_id);
    }
    // The last message is JSON text already (message_format.hpp): spliced in rather than
    // parsed and written again. An object's text always ends with its closing brace.
    std::string out = wire::dump(j);
    out.pop_back();
    out += ",\"last_message\":";
    out += c.last_message.empty() ? std::string("null") : c.last_message;
    out += '}';
    return out;
}

}  // namespace monochat::logic
