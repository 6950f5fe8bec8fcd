#pragma once
// Command-line options of monochat-bench. Every loop of the tool is bounded by them: the
// sending phase by `duration_s` and `messages`, the drain after it by `drain_s`, and the whole
// run by `max_seconds`.

#include <cstdint>
#include <string>

namespace monochat::bench {

enum class workload { fanout, pairs, idle, reconnect, search, group100k };
// What frees a sender's window slot: the ack of the send (durably stored), or the arrival of
// the message at a probe receiver (one per io thread, like the peers' Node harness).
enum class pacing { ack, probe };

struct options {
    workload kind = workload::fanout;
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    int server_pid = 0;
    std::size_t threads = 0;  // 0: one per core

    // fanout: members of the group and the senders among them
    std::size_t members = 1000;
    std::size_t senders = 10;
    // pairs
    std::size_t pairs = 1000;
    // idle and reconnect
    std::size_t connections = 10000;
    // reconnect: members per group, messages sent to each group while its members are away
    std::size_t group_size = 100;
    std::size_t missed = 10;

    // Sending: total messages (0 = no limit but the duration), the window of outstanding
    // sends per sender, and a fixed total rate (0 = as fast as the window allows).
    std::uint64_t messages = 0;
    std::size_t window = 20;
    pacing pace = pacing::ack;
    double rate = 0;
    std::size_t size = 100;  // bytes of message text
    double duration_s = 10;
    double drain_s = 5;
    double max_seconds = 120;

    // group-100k: the seeded accounts (`monochat seed --out`: "user_id username token" lines)
    // and their group; the first `online` connect (0: all but the reserved ones), the last
    // `churners` leave and rejoin at `churn_rate` operations/s in total while messages flow,
    // and `offline_syncs` stay offline until they sync what they missed. Every
    // `readers_every`-th receiver sends read and typing frames (0: none).
    std::string seeded;
    std::string group_id;
    std::size_t online = 0;
    std::size_t churners = 10;
    double churn_rate = 2;
    std::size_t offline_syncs = 5;
    std::size_t readers_every = 100;
    bool track_last = false;  // set by the workload: keep each message's last arrival

    // search: words per message, vocabulary size, result limit
    std::size_t vocab = 1000;
    std::size_t words = 8;

    // Connections: source addresses 127.0.0.2 .. 127.0.0.(1+src_ips), handshakes in flight,
    // HTTP requests in flight during setup.
    std::size_t src_ips = 16;
    std::size_t connect_concurrency = 1000;
    std::size_t http_concurrency = 32;

    std::string label;
    std::string out;  // append the JSON line to this file
    bool json_only = false;
};

// Parses argv; prints usage and exits 2 on a bad argument, 0 on --help.
options parse_options(int argc, char** argv);

const char* to_string(workload w);

}  // namespace monochat::bench
