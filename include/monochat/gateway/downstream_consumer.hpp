#pragma once
// Gateway's downstream consumer: what the node's live connections are pushed through
// (shared/architecture.md, send path). Logic's delivery router and task's fan-out worker call
// it as a bus::delivery_sink, inline on their own threads: a push costs a registry lookup per
// user and a pointer into each connection's queue (the frame's bytes are shared). The bus's
// `downstream` topic brings it the rest (typing, presence, closes) as `delivery` payloads.
//
// Thread-safety: any thread.

#include <boost/asio/any_io_executor.hpp>
#include <monochat/bus/delivery_sink.hpp>
#include <memory>
#include <string_view>
#include <vector>

namespace monochat::infra {
class counter;
class metrics_registry;
}  // namespace monochat::infra

namespace monochat::gateway {

class connection_registry;

class downstream_consumer final : public bus::delivery_sink {
public:
    // `io` with `lanes` > 0: a large group's push (push_to_group) runs in `lanes` lanes on `io`
    // (the I/O threads), each taking its share of the registry; otherwise on the caller's
    // thread. A lane takes every push queued for it, up to `lane_batch`, in one walk, and wakes
    // each connection once for all of them (fanout.lane_batch).
    downstream_consumer(connection_registry& registry, infra::metrics_registry& metrics,
                        const boost::asio::any_io_executor& io = {}, std::size_t lanes = 0,
                        std::size_t lane_batch = 64, std::size_t wake_chunk = 256);
    ~downstream_consumer() override;

    // Always true: a connection whose queue is full is closed (4008) by itself.
    bool push_to_users(const bus::push_frame& f, std::span<const std::uint64_t> user_ids) override;
    bool push_to_world(const bus::push_frame& f) override;
    // Posts one share per lane and returns; `done` after the last share. Never loses a push.
    void push_to_group(const bus::push_frame& f,
                       std::shared_ptr<const std::vector<std::uint64_t>> members,
                       std::size_t shard_size,
                       std::function<void(std::span<const std::uint64_t>)> lost,
                       std::function<void()> done) override;

    // One `downstream` payload (bus::delivery). `trace_id`: the envelope's trace header, for
    // log lines. Called on the bus's consumer threads.
    void deliver(std::string_view payload, std::string_view trace_id = {});

private:
    struct group_push;
    struct lane;
    // On the I/O threads, one at a time per lane: the lane's queued pushes, then its wake-ups.
    void drain(lane& l, std::size_t index);
    bool walk(lane& l, std::size_t index);
    // The drain's wake-ups, wake_chunk_ per handler; then the next drain, if pushes wait.
    void wake_some(lane& l, std::size_t index);

    connection_registry& registry_;
    infra::counter& delivered_;
    infra::counter& lane_walks_;
    boost::asio::any_io_executor io_;
    std::size_t lane_batch_;
    std::size_t wake_chunk_;
    std::vector<std::unique_ptr<lane>> lanes_;
};

}  // namespace monochat::gateway
