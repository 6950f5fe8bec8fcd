#pragma once
// What keeps guarantee 3 of the protocol ("gap-free order on a live connection") across the
// two delivery paths of a committed message, shared by their producers (logic's router, task's
// fan-out worker) and wired to gateway by the composition root.
//
// 1. Ordering across paths. A group message reaches `downstream` either directly from the
//    router or through a `fanout` job. When a group drops to the large-group threshold (members
//    leave, a live reload raises it) message N+1 would go direct while N still waits in the
//    fan-out queue, and N+1 would be pushed first. So the router marks a conversation when it
//    queues a fan-out job (`fanout_queued`) and the worker clears the mark when the job's last
//    shard is on `downstream` (`fanout_done`, also when the job fails); while a conversation has
//    a job pending (`fanout_pending`) its next messages take the fan-out path too, whatever the
//    group's size. Both paths publish to `downstream` under the conversation id, so once the
//    mark is clear a direct delivery lands behind the last shard in the same partition.
// 2. Lost pushes. When a delivery cannot be queued (a bus queue stayed full for
//    `fanout.publish_wait_ms`, a member list could not be read) the message is stored but some
//    live connections will never be pushed it. The producer reports it with `report_lost`
//    before it handles the conversation's next message; the handler (gateway's registry) closes
//    the affected sessions with `close_push_lost` at once, without going through the full queue,
//    and the clients reconnect and sync. A session closed that way is pushed nothing more, so
//    no connection ever sees a later message after a hole.
//
// Thread-safety: every member may be called from any thread. `set_lost_handler` is called once
// before the producers start; the handler runs on the reporting thread and must not block.

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace monochat::bus {

// WebSocket close code of a session that missed a push: reconnect and sync (docs/protocol.md).
inline constexpr std::uint16_t close_push_lost = 4009;

struct lost_push {
    std::string conversation_id;
    std::uint64_t seq = 0;
    // The users whose sessions may have missed the push; ignored when `everyone` is set.
    std::vector<std::uint64_t> user_ids;
    // Who missed it is unknown (world, or a group whose members could not be read): every
    // session of the node is affected.
    bool everyone = false;
};

class delivery_guard {
public:
    using lost_handler = std::function<void(const lost_push&)>;

    delivery_guard() = default;
    delivery_guard(const delivery_guard&) = delete;
    delivery_guard& operator=(const delivery_guard&) = delete;

    void set_lost_handler(lost_handler h);
    // Calls the handler (when one is set) on this thread; counts the report.
    void report_lost(const lost_push& p);
    [[nodiscard]] std::uint64_t lost_reports() const;

    void fanout_queued(std::string_view conversation_id);
    void fanout_done(std::string_view conversation_id);
    [[nodiscard]] bool fanout_pending(std::string_view conversation_id) const;
    // Conversations with a fan-out job pending (bounded by the fan-out queue's size).
    [[nodiscard]] std::size_t pending_conversations() const;

private:
    mutable std::mutex mutex_;
    lost_handler handler_;
    std::uint64_t lost_ = 0;
    std::unordered_map<std::string, std::uint64_t> pending_;
};

}  // namespace monochat::bus
