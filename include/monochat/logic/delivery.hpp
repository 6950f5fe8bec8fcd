#pragma once
// Deliveries: what logic (and task's fan-out workers) hand to gateway over the bus topic
// `downstream` (shared/architecture.md, send path steps 5 and 6).
//
// A delivery is a complete WebSocket text frame, encoded once, plus who gets it. Gateway's
// downstream consumer looks the recipients up in its connection registry and queues the same
// shared bytes on each of their sessions. The payload encoding is a small binary layout so that
// the bus can carry it across a process boundary later without a second JSON pass.
//
// Ordering: deliveries of one conversation are published with the conversation id as the bus
// key, in seq order, so each session receives them in seq order (protocol guarantee 3).

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::logic {

inline constexpr std::string_view downstream_topic = "downstream";

enum class delivery_kind : std::uint8_t {
    // Push `frame` to every live session of `user_ids`, except `exclude_session`.
    frame = 1,
    // Push `frame` to every session subscribed to the world room, except `exclude_session`.
    world = 2,
    // Close every session authenticated with the token whose hash is `frame`, with close code
    // `close_code` (logout: 4001; suspension: 4003).
    close_token = 3,
    // Close every session of `user_ids` with `close_code`.
    close_user = 4,
};

struct delivery {
    delivery_kind kind = delivery_kind::frame;
    std::vector<std::uint64_t> user_ids;
    std::uint64_t exclude_session = 0;
    // No session of this user gets it (typing never reaches the typer's own connections).
    std::uint64_t exclude_user = 0;
    std::uint16_t close_code = 0;
    // A `message` push: counted in monochat_messages_delivered_total.
    bool is_message = false;
    std::string frame;
};

std::string encode_delivery(const delivery& d);
[[nodiscard]] result<delivery> decode_delivery(std::string_view bytes);

}  // namespace monochat::logic
