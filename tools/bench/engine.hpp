#pragma once
// The generator's machinery shared by the workloads: run-wide context, per-thread state and
// counters, one `client` per WebSocket connection (sender, receiver or both), the bounded
// connection launcher, and the timed message phase with its completion rule.
//
// Threading: a client lives on one io thread (thread_ctx); its callbacks, its sender state and
// its received sets are touched only there. Counters are written by their thread and read by
// the main thread while the run goes on; everything else the main thread reads only after the
// io threads have stopped (io_pool::stop joins them).

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/histogram.hpp"
#include "bench/http_api.hpp"
#include "bench/io_pool.hpp"
#include "bench/options.hpp"
#include "bench/proc.hpp"
#include "bench/ws_connection.hpp"

namespace monochat::bench {

// Written by one thread (no lock prefix), read by any.
class counter {
public:
    void add(std::uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

// A growable set of small non-negative integers (message numbers, seqs).
class seen_set {
public:
    // True when i was not in the set.
    bool insert(std::uint64_t i) {
        const auto w = i >> 6;
        if (w >= words_.size()) {
            words_.resize(std::max<std::size_t>(w + 1, words_.size() * 2), 0);
        }
        const std::uint64_t bit = 1ULL << (i & 63);
        if ((words_[w] & bit) != 0) {
            return false;
        }
        words_[w] |= bit;
        return true;
    }
    bool contains(std::uint64_t i) const {
        const auto w = i >> 6;
        return w < words_.size() && (words_[w] & (1ULL << (i & 63))) != 0;
    }
    // |this \ other|
    std::uint64_t count_missing_from(const seen_set& other) const;
    std::uint64_t size() const;

private:
    std::vector<std::uint64_t> words_;
};

class client;
struct sender_state;

struct thread_ctx {
    explicit thread_ctx(boost::asio::io_context& c) : ioc(c), rate_timer(c) {}

    boost::asio::io_context& ioc;
    histogram delivery_us;  // push received - text's send time
    histogram ack_us;       // ack received - send
    histogram ready_us;     // reconnect: storm start - client synced
    counter sent, acked, send_errors, expected, delivered, dup, unexpected, order_violations;
    counter opened, connect_failed, connect_retries, closed_by_server, senders_finished, synced;
    std::atomic<std::int64_t> first_send_us{0};
    std::atomic<std::int64_t> last_send_us{0};
    std::atomic<std::int64_t> last_recv_us{0};
    std::vector<client*> senders;  // the senders living on this thread
    std::vector<client*> by_sidx;  // probe pacing: this thread's senders by sidx
    boost::asio::steady_timer rate_timer;
    std::int64_t go_us = 0;
    // group-100k: per sender and message number, the latest delivery latency seen on this
    // thread (the message's last push, over all its shards); merged by the workload.
    std::vector<std::vector<std::int64_t>> last_arrival_us;
};

struct run_context {
    explicit run_context(const options& o);
    ~run_context();

    options opt;
    server_address server;
    std::vector<boost::asio::ip::address> sources;
    std::string run_id;  // makes usernames and client_msg_ids unique per run
    io_pool pool;
    std::vector<std::unique_ptr<thread_ctx>> threads;
    std::atomic<bool> stop_sending{false};
    std::int64_t started_us = 0;

    // Connection launcher: at most opt.connect_concurrency handshakes in flight.
    std::vector<client*> launch_order;
    std::atomic<std::size_t> launch_next{0};
    void launch(std::vector<client*> order);
    void launch_one();

    // A few diagnostics (first errors, close codes), printed to stderr and kept for the JSON.
    void note(std::string text);
    std::vector<std::string> notes() const;

    // Seconds left of --max-seconds.
    double seconds_left() const;

    // Sums a counter over the threads.
    template <class F>
    std::uint64_t sum(F f) const {
        std::uint64_t n = 0;
        for (const auto& t : threads) {
            n += f(*t).get();
        }
        return n;
    }

private:
    mutable std::mutex notes_mutex_;
    std::vector<std::string> notes_;
    std::size_t notes_dropped_ = 0;
};

struct sender_state {
    std::uint32_t sidx = 0;
    std::string conversation_id;
    std::uint64_t quota = 0;
    std::uint32_t recipients = 0;  // deliveries one acknowledged message must make
    double per_second = 0;         // rate pacing; 0 = window only
    double phase = 0;              // rate pacing: offset in intervals, staggers the senders
    std::uint64_t allowed = UINT64_MAX;
    std::uint64_t sent = 0, completed = 0, acked = 0, errors = 0, probe_next = 0;
    bool finished = false;
    std::vector<std::int64_t> send_us;
    seen_set acked_set;
};

struct expectation {
    std::uint32_t sidx = 0;
    bool self = false;  // a sender's own messages come back as acks, not pushes
    seen_set got;
};

class client final : public ws_handler {
public:
    client(run_context& rc, thread_ctx& th, std::size_t index);
    ~client() override;

    const std::size_t index;
    thread_ctx& th;
    account acct;
    std::unique_ptr<sender_state> sender;
    std::vector<expectation> expects;  // by sidx when expects[sidx].sidx == sidx
    bool probe = false;        // this client's receipts pace its thread's senders (pace probe)
    bool check_order = false;  // pushes must arrive with seq = previous + 1
    // Sends a `read` and a `typing` frame on every push whose seq is a multiple of this (0:
    // never), as a reading member of a large group does.
    std::uint64_t read_every = 0;

    // reconnect: the one conversation whose seqs this client must hold
    std::string track_cid;
    seen_set seqs;
    std::uint64_t contiguous = 0;  // every seq up to this one is held
    std::uint64_t target = 0;      // synced once contiguous reaches it
    bool count_held = true;        // held seqs count as deliveries (not for a sync probe)
    bool sync_on_open = false;
    bool synced = false;
    std::int64_t storm_started_us = 0;

    std::atomic<bool> open{false};
    std::atomic<bool> ever_open{false};

    // Starts a connection (any thread; the work runs on the client's thread).
    void start_connect();
    // On the client's thread.
    void drop();
    void pump();
    void send_frame(std::string_view frame);

private:
    void on_open(std::string_view hello) override;
    void on_text(std::string_view frame) override;
    void on_closed(bool opened, int close_code, std::string_view why) override;

    void on_push(std::string_view frame);
    void on_ack(std::string_view frame);
    void on_error(std::string_view frame);
    void on_sync_result(std::string_view frame);
    void hold_seq(std::uint64_t seq);
    void request_sync(std::uint64_t after);

    run_context& rc_;
    std::unique_ptr<ws_connection> conn_;
    std::vector<std::unique_ptr<ws_connection>>
        old_;  // ended connections: async work may still name them
    boost::asio::steady_timer retry_;
    int attempts_ = 0;
    bool handshake_pending_ = false;
    std::uint64_t last_push_seq_ = 0;
    std::uint64_t sync_requests_ = 0;
    std::string frame_;
    std::string text_;
};

// Figures of the server process and of this one at one instant.
struct snapshot {
    std::int64_t t_us = 0;
    std::optional<double> server_cpu_s;
    std::optional<std::int64_t> server_rss_kb;
    double gen_cpu_s = 0;
    std::optional<machine_cpu> machine;
};
snapshot take_snapshot(int server_pid);

// Connects every client (bounded by --connect-concurrency, three attempts each) and waits
// until each one is open or has failed, or until --max-seconds. Returns seconds taken.
double connect_all(run_context& rc, const std::vector<client*>& clients);

struct message_phase_result {
    snapshot begin, end;
    std::int64_t send_end_us = 0;
    bool complete = false;  // every send finished and every expected delivery arrived
    std::int64_t peak_rss_sampled_kb = 0;
};
// Starts the senders, stops them after --duration (or when their quotas are sent), then waits
// until every send is answered and every expected delivery arrived, or until nothing new
// arrived for --drain s (or --max-seconds). Samples the server's RSS every 100 ms.
message_phase_result run_message_phase(run_context& rc, const std::vector<client*>& all);

// Drops every connection, lets the io threads finish what is queued, and stops them.
void shutdown_clients(run_context& rc, const std::vector<client*>& all);

// The text of message n of sender sidx: "<sidx>:<n>:<send us>:" padded with 'x' to --size, or
// followed by --words words of the search vocabulary.
void make_text(const options& o, std::uint32_t sidx, std::uint64_t n, std::int64_t t_us,
               std::string& out);
// Word k of the search vocabulary, and the words of message n of sender sidx.
std::string vocab_word(std::size_t k);
std::vector<std::string> message_words(const options& o, std::uint32_t sidx, std::uint64_t n);

}  // namespace monochat::bench
