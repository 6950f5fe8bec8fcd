#pragma once
// The delivery router: for every committed message, who is pushed it, and the hand-off to
// gateway's downstream consumer (bus::delivery_sink) or to task's fan-out workers
// (shared/architecture.md, send path). It runs inline on the storage writer thread, from the
// message log's commit listener, in commit order: a direct chat's or a small group's message
// reaches its recipients' connection queues without another thread in between.
//
//   dm:<a>:<b>   both users' connections, except the one that sent it (it gets the ack)
//   world        every connection subscribed to the world room, except the sender's
//   group:<id>   the members, from the membership cache (the cached list is shared, not
//                copied), when the group is cached, has at most fanout.large_group_threshold
//                members and no fan-out job of the conversation is pending; otherwise a fan-out
//                job for task, which reads the members off this thread and hands them to the lanes
//
// The push frame is encoded once per message (message_format.hpp) and its bytes are shared by
// every connection. Order: a connection gets a conversation's messages in seq order because
// the router pushes them from one thread in commit order, and while a conversation has a
// fan-out job pending its later messages follow the job (bus/delivery_guard.hpp).
//
// A delivery that cannot be handed over (the fan-out queue stayed full for
// fanout.publish_wait_ms) is reported to the guard, which closes the connections that missed
// it (4009) before anything later reaches them.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace monochat::bus {
class delivery_guard;
class delivery_sink;
class message_bus;
}  // namespace monochat::bus
namespace monochat::infra {
class live_config;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
struct commit_event;
class member_snapshots;
}  // namespace monochat::storage

namespace monochat::logic {

struct delivery_router_dependencies {
    bus::delivery_sink& sink;
    bus::message_bus& bus;  // the `fanout` topic (declared by the router)
    bus::delivery_guard& guard;
    // The membership cache's lists; null: every group message takes the fan-out path.
    storage::member_snapshots* members;
    const infra::live_config& live;
    infra::metrics_registry& metrics;
};

class delivery_router {
public:
    explicit delivery_router(delivery_router_dependencies d);
    ~delivery_router();
    delivery_router(const delivery_router&) = delete;
    delivery_router& operator=(const delivery_router&) = delete;

    // Routes every message of a commit. On the storage writer thread (the commit listener);
    // never waits for another thread, except for room in a full fan-out queue.
    void route(const storage::commit_event& committed);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace monochat::logic
