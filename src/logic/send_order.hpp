#pragma once
// Send order (contract v1.1): sends on one connection into one conversation get seqs in the
// order the connection sent them, pipelined or not. A send's checks may suspend (a direct
// chat's permission reads SQLite), so without a line a later send could reach the message log
// first. Each send takes its place in its lane (session, conversation) before its first
// suspension, waits until the sends ahead of it have handed their appends to the log, and lets
// the next one go once its own append is enqueued (the log assigns seqs in enqueue order). The
// wait covers the checks, not the durable write: pipelined sends still share group commits.
//
// Thread-safety: the lane table may be used from any thread. One lane's turns must all be
// taken, awaited and released on one strand (a WebSocket session's), which is how the gateway
// runs a connection's requests; a release wakes the next waiter by moving its timer's expiry.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace monochat::logic {

class send_order {
public:
    // A place in a lane. A default-constructed turn (no session: an HTTP send) never waits.
    class turn {
    public:
        turn() = default;
        turn(turn&& other) noexcept;
        turn& operator=(turn&&) = delete;
        turn(const turn&) = delete;
        ~turn() { release(); }

        // Completes once every earlier turn of the lane has been released.
        boost::asio::awaitable<void> wait();
        // Lets the next turn of the lane go on. Only after wait(); idempotent.
        void release() noexcept;

    private:
        friend class send_order;
        turn(send_order* owner, std::string key, std::uint64_t ticket)
            : owner_(owner), key_(std::move(key)), ticket_(ticket) {}
        send_order* owner_ = nullptr;
        std::string key_;
        std::uint64_t ticket_ = 0;
    };

    // Takes the next place in the lane of (session, conversation); call it before the send's
    // first suspension. session 0 means no connection: the turn is free.
    turn take(std::uint64_t session_id, std::string_view conversation_id);

    // Lanes with a send in progress (a lane goes when its last turn is released).
    std::size_t lanes() const;

private:
    struct lane {
        std::uint64_t next = 0;     // the ticket the next take() gets
        std::uint64_t serving = 0;  // the ticket whose turn it is
        std::vector<std::pair<std::uint64_t, boost::asio::steady_timer*>> waiters;
    };
    void advance(const std::string& key) noexcept;
    void forget_waiter(const std::string& key, std::uint64_t ticket) noexcept;

    mutable std::mutex mutex_;
    std::unordered_map<std::string, lane> lanes_;
};

}  // namespace monochat::logic
