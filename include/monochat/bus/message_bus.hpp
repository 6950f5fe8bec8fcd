#pragma once
// The bus: the in-process stand-in for Kafka between layers (shared/architecture.md, "Bus").
//
// Named topics with partitions. A message's key (conversation id, user id, node id) picks the
// partition, so everything published under one key is delivered in publish order to each
// subscription. Every subscription (a consumer group) receives every message published after it
// subscribed. Queues are bounded per partition and subscription: `publish` waits (up to a
// deadline) while a queue is full, `try_publish` fails at once with `unavailable`; nothing grows
// without bound.
//
// Thread-safety: publish/try_publish/subscribe may be called from any thread. Handlers run on
// the bus's consumer threads, one partition's messages at a time and in order; a handler must
// not block for long (it may publish to other topics with try_publish). Delivery is at most once
// in memory; an adapter for Kafka or NATS would give at least once, so handlers are written to be
// idempotent. `publish` blocks the calling thread: call it only from non-network threads
// (storage writer, task workers); network threads use try_publish.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/infra/result.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::infra {
class metrics_registry;
}

namespace monochat::bus {

using headers = std::vector<std::pair<std::string, std::string>>;

struct envelope {
    std::string topic;
    std::string key;
    // Immutable payload bytes, shared between subscriptions without copying.
    std::shared_ptr<const std::string> payload;
    headers hdrs;  // e.g. {"trace", "<trace id>"}
};

using handler = std::function<void(const envelope&)>;

// A live subscription; destroying it (or stop()) stops delivery and joins its consumer work.
class subscription {
public:
    virtual ~subscription() = default;
    virtual void stop() = 0;
};

struct topic_options {
    std::size_t partitions = 4;
    std::size_t capacity = 65536;  // messages per partition queue of each subscription
};

class message_bus {
public:
    virtual ~message_bus() = default;
    message_bus() = default;
    message_bus(const message_bus&) = delete;
    message_bus& operator=(const message_bus&) = delete;

    // Declares a topic; publishing to an undeclared topic is invalid_argument.
    virtual void declare(std::string_view topic, topic_options options) = 0;

    // Waits up to `max_wait` while a target queue is full; then `unavailable`.
    [[nodiscard]] virtual status publish(std::string_view topic, std::string_view key,
                                         std::shared_ptr<const std::string> payload,
                                         headers hdrs = {},
                                         std::chrono::milliseconds max_wait =
                                             std::chrono::milliseconds(5000)) = 0;
    // Never waits: `unavailable` when a target queue is full.
    [[nodiscard]] virtual status try_publish(std::string_view topic, std::string_view key,
                                             std::shared_ptr<const std::string> payload,
                                             headers hdrs = {}) = 0;

    // `group` names the consumer group (for metrics and a future Kafka adapter).
    [[nodiscard]] virtual result<std::unique_ptr<subscription>> subscribe(std::string_view topic,
                                                                          std::string_view group,
                                                                          handler h) = 0;

    // Stops every subscription; later publishes are unavailable.
    virtual void shutdown() = 0;
};

// The in-memory implementation: one consumer thread per (subscription, partition).
std::unique_ptr<message_bus> make_memory_bus(infra::metrics_registry& metrics);

}  // namespace monochat::bus
