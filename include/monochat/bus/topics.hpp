#pragma once
// The topics of the bus and the schema of their payloads: the contract between producers and
// consumers in different layers (logic and task produce, gateway and task consume), kept here
// because the bus is the one module all of them may use. Payloads are compact binary, so a
// Kafka or NATS adapter can carry them unchanged.
//
//   fanout      key: conversation id   fanout_job     a large group's message to deliver (task)
//   downstream  key: conversation id   delivery       frames for gateway's sessions: typing,
//               or user id                            presence, closes (committed messages
//                                                     reach gateway through delivery_sink.hpp)
//
// Order: one key's payloads are consumed in publish order, which is how a conversation's pushes
// keep seq order from the storage writer to every connection.

#include <cstdint>
#include <monochat/infra/result.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::bus {

inline constexpr std::string_view fanout_topic = "fanout";
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

// A complete WebSocket text frame, encoded once, and who gets it.
struct delivery {
    delivery_kind kind = delivery_kind::frame;
    std::vector<std::uint64_t> user_ids;
    std::uint64_t exclude_session = 0;
    // No session of this user gets it (typing never reaches the typer's own connections).
    std::uint64_t exclude_user = 0;
    std::uint16_t close_code = 0;
    // A `message` push: counted in monochat_messages_delivered_total.
    bool is_message = false;
    // The pushed message's id, so that gateway can record each connection it reached in the
    // trace buffer (infra/message_traces.hpp); 0 for other frames.
    std::uint64_t message_id = 0;
    std::string frame;
};

std::string encode_delivery(const delivery& d);
[[nodiscard]] result<delivery> decode_delivery(std::string_view bytes);

// One message of a group above the large-group threshold: task reads the members in shards and
// publishes one delivery per shard.
struct fanout_job {
    std::string conversation_id;
    std::uint64_t group_id = 0;
    std::uint64_t exclude_session = 0;
    std::uint64_t message_id = 0;  // for the trace buffer
    std::string frame;
};

std::string encode_fanout_job(const fanout_job& j);
[[nodiscard]] result<fanout_job> decode_fanout_job(std::string_view bytes);

}  // namespace monochat::bus
