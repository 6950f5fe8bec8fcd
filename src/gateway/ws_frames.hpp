#pragma once
// The JSON of WebSocket frames: parsing client frames into plain structs (every shape error
// is invalid_argument naming the field) and writing server frames. Kept apart from the session
// code so that it compiles fast and can be fuzzed alone.

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <monochat/logic/messaging.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace monochat::gateway::ws_frames {

enum class frame_type { send, sync, read, typing, subscribe, unsubscribe, ping };

struct client_frame {
    frame_type type = frame_type::ping;
    std::optional<std::string> id;
    std::string conversation_id;
    std::string client_msg_id;
    logic::message_body body;
    std::optional<std::uint64_t> after_seq;
    std::size_t limit = 50;
    std::uint64_t seq = 0;

    bool operator==(const client_frame&) const = default;
};

struct frame_error {
    std::optional<std::string> id;  // the frame's id when it could be read
    std::string message;
};

using parse_result = boost::system::result<client_frame, frame_error>;

// Parses one text frame. Errors carry the frame's `id` when present.
parse_result parse_client_frame(std::string_view text);

namespace detail {
// The two readers parse_client_frame chooses between, apart for the tests and the fuzz target.
// The event reader builds no JSON tree; it answers only a frame it can take whole, exactly as
// the tree reader would, and nothing for any other (an error, a repeated field, a field of an
// unexpected type). The tree reader answers everything and words the errors. Neither checks
// the nesting depth; parse_client_frame does that first.
std::optional<client_frame> parse_client_frame_fast(std::string_view text);
parse_result parse_client_frame_tree(std::string_view text);
}  // namespace detail

// Parses a message body object given as JSON text (the HTTP send route). Errors:
// invalid_argument naming the field.
[[nodiscard]] result<logic::message_body> parse_body_json(std::string_view text);

// `limit` query values: default 50, clamped to 200; zero, negative or not a number is an error.
[[nodiscard]] result<std::size_t> parse_limit(std::optional<std::string_view> text);

std::string hello(std::uint64_t user_id, std::uint64_t session_id, std::int64_t heartbeat_ms,
                  std::int64_t server_time);
std::string pong(const std::optional<std::string>& id, std::int64_t server_time);
std::string ok(const std::optional<std::string>& id);
std::string error(const std::optional<std::string>& id, errc code, std::string_view message);
std::string error(const std::optional<std::string>& id, const monochat::error& e);
std::string ack(const std::optional<std::string>& id, const logic::send_result& r);
std::string sync_result(const std::optional<std::string>& id, const logic::history_page& page);

}  // namespace monochat::gateway::ws_frames
