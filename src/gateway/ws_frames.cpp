#include "gateway/ws_frames.hpp"

#include <array>
#include <charconv>
#include <limits>
#include <monochat/infra/json_depth.hpp>
#include <monochat/infra/json_text.hpp>
#include <nlohmann/json.hpp>
#include <utility>

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

namespace detail {

parse_result parse_client_frame_tree(std::string_view text) {
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

namespace {

// The fields parse_client_frame_fast reads, each a slot of the event handler below.
enum class slot : std::uint8_t {
    none,  // a key nobody reads: its value, whatever its shape, is skipped
    id,
    type,
    conversation_id,
    client_msg_id,
    body,
    after_seq,
    limit,
    seq,
    body_type,
    body_text,
    body_reply_to,
    body_target_seq,
    body_emoji,
    body_op,
    body_file_id,
    body_caption,
    body_mentions,
    count
};

// The fields of a frame, and of its body, by key.
constexpr std::pair<std::string_view, slot> top_fields[] = {
    {"type", slot::type},       {"id", slot::id},
    {"conversation_id", slot::conversation_id}, {"client_msg_id", slot::client_msg_id},
    {"body", slot::body},       {"after_seq", slot::after_seq},
    {"limit", slot::limit},     {"seq", slot::seq},
};
constexpr std::pair<std::string_view, slot> body_fields[] = {
    {"type", slot::body_type},        {"text", slot::body_text},
    {"reply_to", slot::body_reply_to}, {"target_seq", slot::body_target_seq},
    {"emoji", slot::body_emoji},      {"op", slot::body_op},
    {"file_id", slot::body_file_id},  {"caption", slot::body_caption},
    {"mentions", slot::body_mentions},
};

template <std::size_t N>
slot slot_of(const std::pair<std::string_view, slot> (&fields)[N], std::string_view key) {
    for (const auto& [name, s] : fields) {
        if (name == key) {
            return s;
        }
    }
    return slot::none;
}

// nlohmann's SAX interface, filling plain fields as the lexer goes: no tree, so no map node
// or string per key and value; only the strings kept are allocated (and the lexer's buffer). It takes only what the tree reader would take without complaint;
// anything else (a wrong type, a repeated field, a bad id, a syntax error) stops it, and the
// tree reader then gives the error with its exact wording.
struct frame_events {
    using number_integer_t = json::number_integer_t;
    using number_unsigned_t = json::number_unsigned_t;
    using number_float_t = json::number_float_t;
    using string_t = json::string_t;
    using binary_t = json::binary_t;

    enum class scope : std::uint8_t { outside, top, body, mentions };

    scope in = scope::outside;
    slot at = slot::none;           // the field whose value comes next
    std::size_t skipping = 0;       // depth inside a value nobody reads
    std::array<bool, static_cast<std::size_t>(slot::count)> seen{};

    std::optional<std::string> id, type, conversation_id, client_msg_id;
    std::optional<std::uint64_t> after_seq, limit, seq;
    bool has_body = false;
    logic::message_body body;
    bool has_body_type = false;

    // A value was read for `at`: the next one needs its key.
    bool took() {
        at = slot::none;
        return true;
    }
    // A scalar that is no field's (true) or that does not fit the field it is for (false).
    bool unread_scalar() {
        if (skipping > 0) {
            return true;
        }
        return (in == scope::top || in == scope::body) && at == slot::none && took();
    }

    bool null() {
        if (skipping > 0) {
            return true;
        }
        // The tree reader takes a null field as an absent one.
        return (in == scope::top || in == scope::body) && took();
    }
    bool boolean(bool) { return unread_scalar(); }
    bool number_float(number_float_t, const string_t&) { return unread_scalar(); }
    // Only negative integers come here: none fits a field.
    bool number_integer(number_integer_t) { return unread_scalar(); }
    bool number_unsigned(number_unsigned_t v) {
        if (skipping > 0) {
            return true;
        }
        switch (at) {
            case slot::none: return unread_scalar();
            case slot::after_seq: after_seq = v; return took();
            case slot::seq: seq = v; return took();
            case slot::limit:
                if (v == 0 || v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                    return false;
                }
                limit = v;
                return took();
            case slot::body_reply_to: body.reply_to = v; return took();
            case slot::body_target_seq: body.target_seq = v; return took();
            default: return false;
        }
    }
    bool string(string_t& v) {
        if (skipping > 0) {
            return true;
        }
        if (in == scope::mentions) {
            auto user = logic::parse_id(v, "body.mentions[]");
            if (!user) {
                return false;
            }
            body.mentions->push_back(*user);
            return true;
        }
        switch (at) {
            case slot::none: return unread_scalar();
            case slot::id: id = std::move(v); return took();
            case slot::type: type = std::move(v); return took();
            case slot::conversation_id: conversation_id = std::move(v); return took();
            case slot::client_msg_id: client_msg_id = std::move(v); return took();
            case slot::body_type: body.type = std::move(v); has_body_type = true; return took();
            case slot::body_text: body.text = std::move(v); return took();
            case slot::body_emoji: body.emoji = std::move(v); return took();
            case slot::body_op: body.op = std::move(v); return took();
            case slot::body_caption: body.caption = std::move(v); return took();
            case slot::body_file_id: {
                auto file = logic::parse_id(v, "body.file_id");
                if (!file) {
                    return false;
                }
                body.file_id = *file;
                return took();
            }
            default: return false;
        }
    }
    bool binary(binary_t&) { return false; }
    // An object or array inside a skipped value, or the value of a key nobody reads: skipped
    // whole.
    bool skips_container() {
        if (skipping > 0 || (at == slot::none && (in == scope::top || in == scope::body))) {
            ++skipping;
            return true;
        }
        return false;
    }
    // The end of a skipped object or array; the value is done when the outermost one ends.
    bool leaves_skipped() {
        if (skipping == 0) {
            return false;
        }
        if (--skipping == 0) {
            took();
        }
        return true;
    }

    bool start_object(std::size_t) {
        if (in == scope::outside) {
            in = scope::top;
            return true;
        }
        if (skips_container()) {
            return true;
        }
        if (in == scope::top && at == slot::body) {
            in = scope::body;
            has_body = true;
            at = slot::none;
            return true;
        }
        return false;
    }
    bool end_object() {
        if (leaves_skipped()) {
            return true;
        }
        if (in == scope::body) {
            in = scope::top;
            return took();
        }
        in = scope::outside;  // the frame's end
        return true;
    }
    bool start_array(std::size_t) {
        if (skips_container()) {
            return true;
        }
        if (in == scope::body && at == slot::body_mentions) {
            in = scope::mentions;
            body.mentions.emplace();
            return true;
        }
        return false;
    }
    bool end_array() {
        if (leaves_skipped()) {
            return true;
        }
        in = scope::body;
        return took();
    }
    bool key(string_t& k) {
        if (skipping > 0) {
            return true;
        }
        at = in == scope::top ? slot_of(top_fields, k) : slot_of(body_fields, k);
        if (at == slot::none) {
            return true;
        }
        // A repeated field: the tree keeps the last one; leave it to the tree.
        auto& s = seen[static_cast<std::size_t>(at)];
        return !std::exchange(s, true);
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
        return false;
    }
};

}  // namespace

std::optional<client_frame> parse_client_frame_fast(std::string_view text) {
    frame_events ev;
    if (!json::sax_parse(text, &ev, json::input_format_t::json, true, false) || !ev.type) {
        return std::nullopt;
    }
    client_frame f;
    f.id = std::move(ev.id);
    const std::string& type = *ev.type;
    const bool has_conversation = ev.conversation_id.has_value();
    if (has_conversation) {
        f.conversation_id = std::move(*ev.conversation_id);
    }
    if (type == "ping") {
        f.type = frame_type::ping;
        f.conversation_id.clear();
        return f;
    }
    if (type == "send") {
        if (!has_conversation || !ev.client_msg_id || !ev.has_body || !ev.has_body_type) {
            return std::nullopt;
        }
        f.type = frame_type::send;
        f.client_msg_id = std::move(*ev.client_msg_id);
        f.body = std::move(ev.body);
        return f;
    }
    if (!has_conversation) {
        return std::nullopt;
    }
    if (type == "sync") {
        f.type = frame_type::sync;
        f.after_seq = ev.after_seq.value_or(0);
        if (ev.limit) {
            f.limit = std::min<std::size_t>(static_cast<std::size_t>(*ev.limit), max_limit);
        }
        return f;
    }
    if (type == "read") {
        if (!ev.seq) {
            return std::nullopt;
        }
        f.type = frame_type::read;
        f.seq = *ev.seq;
        return f;
    }
    if (type == "typing" || type == "subscribe" || type == "unsubscribe") {
        f.type = type == "typing"      ? frame_type::typing
                 : type == "subscribe" ? frame_type::subscribe
                                       : frame_type::unsubscribe;
        return f;
    }
    return std::nullopt;
}

}  // namespace detail

parse_result parse_client_frame(std::string_view text) {
    if (infra::json_nesting_exceeds(text)) {
        return frame_error{std::nullopt, std::string(infra::json_too_deep_message)};
    }
    // Nearly every frame is one the event parser takes whole; the tree reads the others and
    // words their errors.
    if (auto f = detail::parse_client_frame_fast(text)) {
        return std::move(*f);
    }
    return detail::parse_client_frame_tree(text);
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
    infra::append_decimal(out, r.message_id);
    out += R"(","conversation_id":)";
    infra::append_json_string(out, r.conversation_id);
    out += R"(,"seq":)";
    infra::append_decimal(out, r.seq);
    out += R"(,"ts":)";
    infra::append_decimal(out, r.ts);
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
