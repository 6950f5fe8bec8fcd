#pragma once
// Many WebSocket connections on one io thread, for tests with thousands of clients (a
// ws_client per connection would cost a thread each). Each connection records, per
// conversation, the seqs it was pushed and the seqs of its own acks: pushes must come in
// increasing order, no seq may arrive twice, and pushes and acks together must leave no gap
// (a sending connection gets an ack instead of the push of its own message).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace monochat::test {

class ws_swarm {
public:
    ws_swarm(std::string host, int port);
    ~ws_swarm();
    ws_swarm(const ws_swarm&) = delete;
    ws_swarm& operator=(const ws_swarm&) = delete;

    // Opens one connection per token (handshakes run concurrently) and waits for every hello.
    // Throws when one fails or `timeout` passes.
    void connect(const std::vector<std::string>& tokens,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(60000));

    std::size_t size() const;
    // Sends a text frame on connection `i`.
    void send(std::size_t i, const nlohmann::json& frame);

    struct stats {
        std::uint64_t messages = 0;      // message pushes received
        std::uint64_t out_of_order = 0;  // pushes whose seq is not above the previous push's
        std::uint64_t duplicates = 0;    // seqs received twice (push or ack)
        std::uint64_t gaps = 0;          // seqs missing between the first and last seen
        std::uint64_t acks = 0;
        std::uint64_t errors = 0;
        bool closed = false;
        int close_code = 0;
    };
    stats stats_of(std::size_t i) const;
    // Total message pushes received by all connections.
    std::uint64_t total_messages() const;
    // Waits until every connection received at least `per_connection` message pushes.
    bool wait_messages(std::uint64_t per_connection, std::chrono::milliseconds timeout);
    // The last seq connection `i` received in `conversation_id` (0 if none).
    std::uint64_t last_seq(std::size_t i, const std::string& conversation_id) const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace monochat::test
