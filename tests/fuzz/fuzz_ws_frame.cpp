// libFuzzer target: one WebSocket text frame from a client, parsed (gateway/ws_frames.cpp) and
// then handled as gateway/websocket_gateway.cpp's session does for an authenticated user
// (alice of fuzz_world.hpp, on a fake session id): send, sync, read and typing go to the real
// messaging and conversations services; every reply frame is written with ws_frames.
//
// Beyond "no crash": nothing throws (the session would answer "internal"), no frame is answered
// with `internal`, and every reply is one JSON object with a `type`. The same bytes also go
// through parse_body_json (the HTTP send route's body) and parse_limit.

#include <cstddef>
#include <cstdint>
#include <monochat/infra/json_depth.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_world.hpp"
#include "gateway/ws_frames.hpp"

namespace {

using namespace monochat;
namespace frames = gateway::ws_frames;

constexpr std::uint64_t session_id = 42;

// The session's dispatch (websocket_gateway.cpp), mirrored for a session with no socket.
boost::asio::awaitable<std::optional<std::string>> dispatch(fuzz::world& w, frames::client_frame f) {
    switch (f.type) {
        case frames::frame_type::ping: co_return frames::pong(f.id, w.clock.now_ms());
        case frames::frame_type::subscribe:
        case frames::frame_type::unsubscribe:
            if (f.conversation_id != logic::world_conversation_id) {
                co_return frames::error(f.id, errc::invalid_argument,
                                        "only the world conversation can be subscribed to");
            }
            co_return frames::ok(f.id);
        case frames::frame_type::send: {
            logic::send_request req;
            req.who = w.alice;
            req.session_id = session_id;
            req.conversation_id = std::move(f.conversation_id);
            req.client_msg_id = std::move(f.client_msg_id);
            req.body = std::move(f.body);
            req.trace_id = "fuzz";
            auto r = co_await w.messaging->send(std::move(req));
            if (!r) {
                co_return frames::error(f.id, r.error());
            }
            co_return frames::ack(f.id, *r);
        }
        case frames::frame_type::sync: {
            logic::history_request req;
            req.conversation_id = f.conversation_id;
            req.after_seq = f.after_seq;
            req.limit = f.limit;
            auto r = co_await w.messaging->history(w.alice, std::move(req));
            if (!r) {
                co_return frames::error(f.id, r.error());
            }
            co_return frames::sync_result(f.id, *r);
        }
        case frames::frame_type::read: {
            // The composition root's mark_read (src/app/application.cpp).
            auto ref = logic::parse_conversation_id(f.conversation_id);
            if (!ref) {
                co_return frames::error(f.id, ref.error());
            }
            logic::read_options options;
            options.exclude_session = session_id;
            auto moved = co_await w.conversations->mark_read(w.alice, std::move(*ref), f.seq, options);
            if (!moved) {
                co_return frames::error(f.id, moved.error());
            }
            co_return std::nullopt;
        }
        case frames::frame_type::typing: {
            auto r = co_await w.messaging->typing(w.alice, f.conversation_id);
            if (!r) {
                co_return frames::error(f.id, r.error());
            }
            co_return std::nullopt;
        }
    }
    co_return std::nullopt;
}

void check_reply(const std::string& frame) {
    const auto j = nlohmann::json::parse(frame, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
        fuzz::die("reply is not a JSON object with a type: " + frame);
    }
    if (j["type"] == "error" && j.value("code", "") == "internal") {
        fuzz::die("internal error: " + frame);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view raw(reinterpret_cast<const char*>(data), size);
    (void)frames::parse_body_json(raw);
    (void)frames::parse_limit(raw);

    auto& w = fuzz::world::instance();
    const std::string text = w.expand(raw);
    // The event reader takes a frame only as the tree reader reads it.
    if (!infra::json_nesting_exceeds(text)) {
        if (auto fast = frames::detail::parse_client_frame_fast(text)) {
            auto tree = frames::detail::parse_client_frame_tree(text);
            if (!tree || !(*tree == *fast)) {
                fuzz::die("the event reader took a frame the tree reader reads otherwise: " + text);
            }
        }
    }
    auto parsed = frames::parse_client_frame(text);
    if (!parsed) {
        check_reply(frames::error(parsed.error().id, errc::invalid_argument, parsed.error().message));
        return 0;
    }
    auto reply = w.io.run(dispatch(w, std::move(*parsed)));
    if (reply) {
        check_reply(*reply);
    }
    return 0;
}
