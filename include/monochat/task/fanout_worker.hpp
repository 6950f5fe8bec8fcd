#pragma once
// Fan-out for large groups (shared/architecture.md, send path step 5): consumes `fanout` jobs,
// reads the group's members in shards of `fanout.shard_size` and publishes one `downstream`
// delivery per shard, keyed by the conversation so that pushes keep seq order. A 100,000-member
// group costs the sender nothing: the ack went out before the job was even read, and other
// conversations' jobs run on other partitions.
// With a delivery guard (bus/delivery_guard.hpp, shared with logic's router) every job ends
// with `fanout_done`, after its last shard is queued or when it fails, and a shard that cannot
// be queued is reported as a lost push for its members (their sessions are closed with 4009).
// Thread-safety: start/stop from the composition root; the work runs on bus consumer threads.

#include <memory>
#include <monochat/infra/result.hpp>

namespace monochat::bus {
class delivery_guard;
class message_bus;
class subscription;
}  // namespace monochat::bus
namespace monochat::storage {
class social_store;
}
namespace monochat::infra {
class live_config;
class metrics_registry;
}  // namespace monochat::infra

namespace monochat::task {

class fanout_worker {
public:
    fanout_worker(bus::message_bus& bus, storage::social_store& social,
                  const infra::live_config& live, infra::metrics_registry& metrics,
                  bus::delivery_guard* guard = nullptr);
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
