#pragma once
// The load side of the chaos test: WebSocket clients on one io thread that send messages with
// client_msg_ids, record every acknowledgement, resend what was not acknowledged after a
// reconnect (same client_msg_id), keep a local copy of every conversation they are in (acks,
// pushes, `sync` pages) and check what they see as they go. The controller (main thread) opens
// and closes the server under them and asks for snapshots and final resyncs.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace monochat::chaos {

// One acknowledged message, as the ack described it.
struct acked_message {
    std::string message_id;
    std::string sender_id;
    std::string client_msg_id;
};

// conversation id -> seq -> message
using message_map = std::map<std::string, std::map<std::uint64_t, acked_message>>;

struct load_options {
    std::size_t window = 4;  // sends on the wire per client
    double rate = 400;       // new sends per second over all clients (0: unlimited)
    std::chrono::milliseconds ack_timeout{15000};
};

struct client_account {
    std::string user_id;
    std::string token;
    std::vector<std::string> conversations;  // where it sends and what it keeps in step
};

struct counters {
    std::uint64_t sent = 0;                // distinct messages sent (first attempts)
    std::uint64_t acked = 0;               // distinct messages acknowledged
    std::uint64_t resent = 0;              // resends of a message after a reconnect or an error
    std::uint64_t resent_after_crash = 0;  // messages in flight at a kill, resent afterwards
    std::uint64_t resent_acked = 0;        // ... and acknowledged on the resend
    std::uint64_t unavailable = 0;         // `unavailable` errors
    std::uint64_t other_errors = 0;        // rate_limited and the like (retried)
    std::uint64_t connects = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t pushes = 0;
    std::uint64_t synced = 0;  // messages read through sync pages
};

class harness {
public:
    harness(std::vector<client_account> clients, load_options opts, std::uint64_t seed);
    ~harness();
    harness(const harness&) = delete;
    harness& operator=(const harness&) = delete;

    // Clients (re)connect to 127.0.0.1:port while open; `close_server` makes them stay away
    // (they notice the dead connections themselves).
    void open_server(int port);
    void close_server();
    // New sends start or stop (unacknowledged ones are still resent while stopped).
    void set_load(bool on);

    // Calls below block the caller until the io thread answered.
    bool all_disconnected();
    bool all_connected_and_synced();
    std::size_t outstanding();
    message_map acked();
    counters totals();
    // Every client re-syncs all its conversations from the end of its contiguous prefix; then
    // `all_connected_and_synced` turns true again.
    void resync_all();
    // Each client's local copy of its conversations (seq -> message_id).
    std::vector<std::map<std::string, std::map<std::uint64_t, std::string>>> local_logs();
    std::vector<client_account> accounts() const { return accounts_; }

    // Violations seen by the clients (a seq acknowledged for two messages, an ack that differs
    // on a retry, an error that should not happen, an ack that never came).
    std::vector<std::string> take_violations();

    void stop();

private:
    struct state;
    std::vector<client_account> accounts_;
    std::shared_ptr<state> state_;
    std::thread thread_;
};

}  // namespace monochat::chaos
