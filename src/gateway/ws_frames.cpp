#include "gateway/ws_frames.hpp"

#include <charconv>
#include <monochat/infra/json_depth.hpp>
#include <monochat/infra/json_text.hpp>
#include <nlohmann/json.hpp>

namespace monochat::gateway::ws_frames {

namespace {
using json = nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

constexpr std::size_t default_limit = 50;
constexpr std::size_t max_limit = 200;

// Readers of optional and required fields; each names the field in its error.
struct reader {
    const json& obj;
    std::string error;

    const json* find(const char* key) const {
        auto it = obj.find(key);
        return it == obj.end() || it->is_null() ? nullptr : &*it;
    }
    bool string(const char* key, std::string& out, bool required) {
        const json* v = find(key);
        if (v == nullptr) {
            if (required) {
                error = std::string(key) + " is required";
            }
            return !required;
        }
        if (!v->is_string()) {
            error = std::string(key) + " must be a string";
            return false;
        }
        out = v->get<std::string>();
        return true;
    }
    bool u64(const char* key, std::optional<std::uint64_t>& out, bool required) {
        const json* v = find(key);
        if (v == nullptr) {
            if (required) {
                error = std::string(key) + " is required";
            }
            return !required;
        }
        if (v->is_number_unsigned()) {
            out = v->get<std::uint64_t>();
            return true;
        }
        if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
            out = static_cast<std::uint64_t>(v->get<std::int64_t>());
            return true;
        }
        error = std::string(key) + " must be a non-negative integer";
        return false;
    }
};

result<logic::message_body> body_from_json(const json& b) {
    if (!b.is_object()) {
        return make_error(errc::invalid_argument, "body must be a JSON object");
    }
    reader r{b, {}};
    logic::message_body body;
    if (!r.string("type", body.type, true)) {
        return make_error(errc::invalid_argument, "body." + r.error);
    }
    std::string text;
    if (r.find("text") != nullptr) {
        if (!r.string("text", text, true)) {
            return make_error(errc::invalid_argument, "body." + r.error);
        }
        body.text = std::move(text);
    }
    if (!r.u64("reply_to", body.reply_to, false) || !r.u64("target_seq", body.target_seq, false)) {
        return make_error(errc::invalid_argument, "body." + r.error);
    }
    std::string s;
    if (r.find("emoji") != nullptr) {
        if (!r.string("emoji", s, true)) {
            return make_error(errc::invalid_argument, "body." + r.error);
        }
        body.emoji = s;
    }
    if (r.find("op") != nullptr) {
        if (!r.string("op", s, true)) {
            return make_error(errc::invalid_argument, "body." + r.error);
        }
        body.op = s;
    }
    if (const json* f = r.find("file_id")) {
        if (!f->is_string()) {
            return make_error(errc::invalid_argument, "body.file_id must be a file id string");
        }
        auto id = logic::parse_id(f->get_ref<const std::string&>(), "body.file_id");
        if (!id) {
            return id.error();
        }
        body.file_id = *id;
    }
    if (r.find("caption") != nullptr) {
        if (!r.string("caption", s, true)) {
            return make_error(errc::invalid_argument, "body." + r.error);
        }
        body.caption = s;
    }
    if (const json* m = r.find("mentions")) {
        if (!m->is_array()) {
            return make_error(errc::invalid_argument, "body.mentions must be an array of user ids");
        }
        std::vector<std::uint64_t> ids;
        for (const auto& e : *m) {
            if (!e.is_string()) {
                return make_error(errc::invalid_argument, "body.mentions must hold user id strings");
            }
            auto id = logic::parse_id(e.get_ref<const std::string&>(), "body.mentions[]");
            if (!id) {
                return id.error();
            }
            ids.push_back(*id);
        }
        body.mentions = std::move(ids);
    }
    return body;
}

json with_id(json j, const std::optional<std::string>& id) {
    if (id) {
        j["id"] = *id;
    }
    return j;
}
}  // namespace

parse_result parse_client_frame(std::string_view text) {
    if (infra::json_nesting_exceeds(text)) {
        return frame_error{std::nullopt, std::string(infra::json_too_deep_message)};
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return frame_error{std::nullopt, "a frame must be one JSON object"};
    }
    client_frame f;
    reader r{j, {}};
    std::string id;
    if (r.find("id") != nullptr) {
        if (!r.string("id", id, true)) {
            return frame_error{std::nullopt, r.error};
        }
        f.id = id;
    }
    std::string type;
    if (!r.string("type", type, true)) {
        return frame_error{f.id, r.error};
    }
    const auto fail = [&](std::string msg) { return frame_error{f.id, std::move(msg)}; };
    if (type == "ping") {
        f.type = frame_type::ping;
        return f;
    }
    if (type == "send") {
        f.type = frame_type::send;
        if (!r.string("conversation_id", f.conversation_id, true) ||
            !r.string("client_msg_id", f.client_msg_id, true)) {
            return fail(r.error);
        }
        const json* b = r.find("body");
        if (b == nullptr) {
            return fail("body is required");
        }
        auto body = body_from_json(*b);
        if (!body) {
            return fail(body.error().message);
        }
        f.body = std::move(*body);
        return f;
    }
    if (type == "sync") {
        f.type = frame_type::sync;
        if (!r.string("conversation_id", f.conversation_id, true)) {
            return fail(r.error);
        }
        std::optional<std::uint64_t> after;
        if (!r.u64("after_seq", after, false)) {
            return fail(r.error);
        }
        f.after_seq = after.value_or(0);
        if (const json* l = r.find("limit")) {
            if (!l->is_number_integer() || l->get<std::int64_t>() <= 0) {
                return fail("limit must be a positive integer");
            }
            f.limit = std::min<std::size_t>(static_cast<std::size_t>(l->get<std::int64_t>()), max_limit);
        }
        return f;
    }
    if (type == "read") {
        f.type = frame_type::read;
        std::optional<std::uint64_t> seq;
        if (!r.string("conversation_id", f.conversation_id, true) || !r.u64("seq", seq, true)) {
            return fail(r.error);
        }
        f.seq = *seq;
        return f;
    }
    if (type == "typing" || type == "subscribe" || type == "unsubscribe") {
        f.type = type == "typing"      ? frame_type::typing
                 : type == "subscribe" ? frame_type::subscribe
                                       : frame_type::unsubscribe;
        if (!r.string("conversation_id", f.conversation_id, true)) {
            return fail(r.error);
        }
        return f;
    }
    return fail("unknown frame type: " + type.substr(0, 64));
}

result<logic::message_body> parse_body_json(std::string_view text) {
    if (infra::json_nesting_exceeds(text)) {
        return make_error(errc::invalid_argument, std::string(infra::json_too_deep_message));
    }
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded()) {
        return make_error(errc::invalid_argument, "body must be a JSON object");
    }
    return body_from_json(j);
}

result<std::size_t> parse_limit(std::optional<std::string_view> text) {
    if (!text) {
        return default_limit;
    }
    long long v = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, v);
    if (text->empty() || ec != std::errc{} || ptr != end || v <= 0) {
        return make_error(errc::invalid_argument, "limit must be a positive integer");
    }
    return std::min<std::size_t>(static_cast<std::size_t>(v), max_limit);
}

std::string hello(std::uint64_t user_id, std::uint64_t session_id, std::int64_t heartbeat_ms,
                  std::int64_t server_time) {
    return dump({{"type", "hello"},
                 {"user_id", std::to_string(user_id)},
                 {"session_id", std::to_string(session_id)},
                 {"heartbeat_ms", heartbeat_ms},
                 {"server_time", server_time}});
}

std::string pong(const std::optional<std::string>& id, std::int64_t server_time) {
    return dump(with_id({{"type", "pong"}, {"server_time", server_time}}, id));
}

std::string ok(const std::optional<std::string>& id) { return dump(with_id({{"type", "ok"}}, id)); }

std::string error(const std::optional<std::string>& id, errc code, std::string_view message) {
    return dump(with_id({{"type", "error"}, {"code", to_string(code)}, {"message", message}}, id));
}

std::string error(const std::optional<std::string>& id, const monochat::error& e) {
    json j = with_id({{"type", "error"}, {"code", to_string(e.code)}, {"message", e.message}}, id);
    if (e.code == errc::rate_limited && e.retry_after_s > 0) {
        j["retry_after_s"] = e.retry_after_s;
    }
    return dump(j);
}

// The most frequent frame of all: written without a JSON DOM.
std::string ack(const std::optional<std::string>& id, const logic::send_result& r) {
    std::string out;
    out.reserve(128 + r.client_msg_id.size() + r.conversation_id.size() + (id ? id->size() : 0));
    out += R"({"type":"ack",)";
    if (id) {
        out += R"("id":)";
        infra::append_json_string(out, *id);
        out += ',';
    }
    out += R"("client_msg_id":)";
    infra::append_json_string(out, r.client_msg_id);
    out += R"(,"message_id":")";
    out += std::to_string(r.message_id);
    out += R"(","conversation_id":)";
    infra::append_json_string(out, r.conversation_id);
    out += R"(,"seq":)";
    out += std::to_string(r.seq);
    out += R"(,"ts":)";
    out += std::to_string(r.ts);
    out += '}';
    return out;
}

std::string sync_result(const std::optional<std::string>& id, const logic::history_page& page) {
    // The messages are already JSON text: splice them in rather than parse them again.
    std::string out = R"({"type":"sync_result",)";
    if (id) {
        out += R"("id":)" + dump(json(*id)) + ",";
    }
    out += R"("conversation_id":)" + dump(json(page.conversation_id)) + R"(,"messages":[)";
    for (std::size_t i = 0; i < page.messages.size(); ++i) {
        if (i != 0) {
            out += ',';
        }
        out += page.messages[i];
    }
    out += R"(],"has_more":)";
    out += page.has_more ? "true}" : "false}";
    return out;
}

}  // namespace monochat::gateway::ws_frames
