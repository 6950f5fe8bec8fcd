#pragma once
// Where committed messages are pushed: the boundary between the producers of pushes (logic's
// delivery router, task's fan-out worker) and the node's live connections (gateway's
// downstream consumer). In one process it is a call; split into services, it becomes the
// `downstream.<node>` subject of the original design, published per gateway node.
//
// A call queues the frame on every live connection concerned and returns; it never blocks and
// never waits for a socket. The frame's bytes are shared by every connection (one encoding per
// message). Order: a connection gets frames in the order of the calls that reached it, when
// those calls come from one thread in sequence; producers keep one conversation's calls on one
// thread (logic/delivery_router.hpp says how).
//
// Thread-safety: any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace monochat::bus {

class message_bus;

// A complete server frame (JSON text) and whom it spares.
struct push_frame {
    std::shared_ptr<const std::string> text;
    // The conversation it belongs to: the ordering key where the sink is a topic.
    std::string conversation_id;
    // The connection that sent the message (it gets the ack instead); 0: none.
    std::uint64_t exclude_session = 0;
    // A user none of whose connections get it (a typer's own); 0: none.
    std::uint64_t exclude_user = 0;
    // A `message` push (counted as a delivery, traced by message id); 0 for other frames.
    std::uint64_t message_id = 0;
};

class delivery_sink {
public:
    virtual ~delivery_sink() = default;

    // Queues `f` on every live connection of `user_ids`. False: it could not be queued for
    // them (a topic that stayed full); the producer then reports the push lost
    // (delivery_guard.hpp). A connection that cannot take it is the sink's to close.
    [[nodiscard]] virtual bool push_to_users(const push_frame& f,
                                             std::span<const std::uint64_t> user_ids) = 0;
    // Queues `f` on every connection subscribed to the world room. False as above.
    [[nodiscard]] virtual bool push_to_world(const push_frame& f) = 0;

    // A large group's push: `f` to every live connection of `members` (ids ascending, shared
    // with the caller's cache and kept until the end). The sink may queue it on other threads
    // after this returns; pushes of one conversation made in sequence still reach each
    // connection in that sequence. `lost` gets the users of any part that could not be queued
    // (as push_to_users' false); `done` is called once, on any thread, after every part was
    // queued or reported lost. This default pushes `shard_size` users at a time through
    // push_to_users on the caller's thread.
    virtual void push_to_group(const push_frame& f,
                               std::shared_ptr<const std::vector<std::uint64_t>> members,
                               std::size_t shard_size,
                               std::function<void(std::span<const std::uint64_t>)> lost,
                               std::function<void()> done);
};

// A sink that publishes each push as a `delivery` on `topic` of `bus` (topics.hpp), keyed by
// conversation, waiting at most `wait()` for room: what a gateway on another node consumes,
// and what the logic and task tests observe.
std::unique_ptr<delivery_sink> make_topic_sink(message_bus& bus, std::string topic,
                                               std::function<std::chrono::milliseconds()> wait);

}  // namespace monochat::bus
