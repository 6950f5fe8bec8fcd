#pragma once
// Queues frames for gateway on the downstream topic (delivery.hpp): to named users, or to every
// member of a group, read from the store in shards of `fanout.shard_size` so that one delivery
// never carries an unbounded recipient list. Never waits for the bus (try_publish): network
// threads call this. A full queue drops the frame, counted in monochat_events_dropped_total and
// logged; events are best effort (shared/protocol.md: clients read state over HTTP).
//
// With a group sink (gateway's downstream consumer), a group's events skip the bus: the member
// list (the membership cache's, shared, or read from the store) goes to the sink whole, which
// pushes it in lanes on the I/O threads. A join into a 100,000-member group then costs one
// hand-off instead of 200 encoded and decoded deliveries of 500 ids, and its HTTP answer does
// not wait for them (docs/benchmarks.md, "100,000-member group").
// Thread-safety: any thread.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/delivery.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/group_store.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::logic {

class event_publisher {
public:
    event_publisher(bus::message_bus& bus, storage::group_store& groups,
                    const infra::live_config& config, infra::metrics_registry& metrics,
                    bus::delivery_sink* group_sink = nullptr,
                    storage::member_snapshots* members = nullptr);

    // `key` orders deliveries on the bus: a conversation id, or a user id.
    void to_users(std::string_view key, std::vector<std::uint64_t> user_ids,
                  const std::string& frame, std::uint64_t exclude_session = 0);
    // Every member of the group, plus `also` (one who just left). Awaits the store's member
    // reads; a failed read ends the fan-out early (logged).
    boost::asio::awaitable<void> to_group(std::uint64_t group_id, std::string frame,
                                          std::optional<std::uint64_t> also = std::nullopt,
                                          std::uint64_t exclude_session = 0);
    // The members of a group that is gone (their list as it was, ascending): what to_group does
    // without reading the members.
    void to_members(std::uint64_t group_id, std::vector<std::uint64_t> member_ids,
                    std::string frame);
    void publish(std::string_view key, const delivery& d);

private:
    boost::asio::awaitable<void> to_group_sink(std::uint64_t group_id, std::string frame,
                                               std::optional<std::uint64_t> also,
                                               std::uint64_t exclude_session);

    bus::message_bus& bus_;
    storage::group_store& groups_;
    bus::delivery_sink* group_sink_;
    storage::member_snapshots* members_;
    const infra::live_config& config_;
    infra::counter& dropped_;
};

}  // namespace monochat::logic
