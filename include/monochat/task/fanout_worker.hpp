#pragma once
// Fan-out for large groups (shared/architecture.md, send path): consumes `fanout` jobs, takes
// the group's member list (the membership cache's shared list when the group is cached, else
// read from the store in pages of `fanout.shard_size`) and hands it whole to gateway's
// downstream consumer (bus::delivery_sink::push_to_group), which pushes it in lanes on the I/O
// threads, in order, so that pushes keep seq order. A 100,000-member group costs the sender
// nothing: the ack went out before the job was even read, and other conversations' jobs run
// on other partitions.
// With a delivery guard (bus/delivery_guard.hpp, shared with logic's router) every job ends
// with `fanout_done`, once the sink's last lane has queued it on the connections or when it
// fails, and a part that cannot be queued is reported as a lost push for its members (their
// sessions are closed with 4009).
// Thread-safety: start/stop from the composition root; the work runs on bus consumer threads.

#include <memory>
#include <monochat/infra/result.hpp>

namespace monochat::bus {
class delivery_guard;
class delivery_sink;
class message_bus;
class subscription;
}  // namespace monochat::bus
namespace monochat::storage {
class member_snapshots;
class group_store;
}  // namespace monochat::storage
namespace monochat::infra {
class live_config;
class metrics_registry;
}  // namespace monochat::infra

namespace monochat::task {

class fanout_worker {
public:
    // `sink`: where shards go; null: a topic sink on the bus's `downstream` topic (tests).
    // `members`: the membership cache's lists; null: members are read from `groups`.
    fanout_worker(bus::message_bus& bus, storage::group_store& groups,
                  const infra::live_config& live, infra::metrics_registry& metrics,
                  bus::delivery_guard* guard = nullptr, bus::delivery_sink* sink = nullptr,
                  storage::member_snapshots* members = nullptr);
    ~fanout_worker();
    fanout_worker(const fanout_worker&) = delete;
    fanout_worker& operator=(const fanout_worker&) = delete;

    [[nodiscard]] status start();
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace monochat::task
