#pragma once
// "Where is my message?": a bounded in-memory record of what happened to recent messages,
// keyed by message id: received, stored (seq), handed to fan-out, queued on each recipient
// connection. The admin API reads it (GET /api/v1/admin/messages/{id}/trace); the message's
// trace id travels with it, so every layer's log lines about it carry the same `trace` field.
//
// Sampled: one message in `sample_every` (config `trace.sample_every`) is traced, picked by a
// hash of its id, so every layer decides alone and alike with `sampled(id)`: two relaxed atomic
// loads and a multiply, no lock, for a message that is not traced. A traced message's events
// each take one shard lock and append 32 bytes to its event vector (at most `max_events` per
// message; later ones are only counted).
// Bounds: `capacity` messages in all (config `trace.buffer_messages`), oldest dropped first.
// Thread-safety: every member may be called from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace monochat::infra {

enum class trace_stage : std::uint8_t {
    received = 0,  // a: sender user id
    stored = 1,    // a: seq
    fanout = 2,    // a: recipient users in this hand-off, b: 1 for a task fan-out job/shard
    pushed = 3,    // a: recipient user id, b: session id (queued on the connection's outbox)
};

std::string_view to_string(trace_stage s) noexcept;

struct trace_event {
    trace_stage stage = trace_stage::received;
    std::int64_t at_us = 0;  // wall clock, microseconds since the Unix epoch
    std::uint64_t a = 0;
    std::uint64_t b = 0;
};

struct message_trace {
    std::uint64_t message_id = 0;
    std::string trace_id;
    std::string conversation_id;
    std::vector<trace_event> events;  // in the order recorded
    std::uint64_t dropped_events = 0;  // past max_events
};

class message_traces {
public:
    explicit message_traces(std::size_t capacity = 0, std::size_t max_events = 4096);
    message_traces(const message_traces&) = delete;
    message_traces& operator=(const message_traces&) = delete;

    bool enabled() const noexcept { return capacity_.load(std::memory_order_relaxed) != 0; }
    // Live: a smaller capacity drops the oldest traces on their shard's next insert; 0 stops
    // recording (kept traces stay readable until evicted or the buffer is cleared).
    void set_capacity(std::size_t messages);
    std::size_t capacity() const noexcept { return capacity_.load(std::memory_order_relaxed); }
    // Live: 1 traces every message, n one message in n.
    void set_sample_every(std::uint64_t n) noexcept {
        sample_every_.store(n == 0 ? 1 : n, std::memory_order_relaxed);
    }
    std::uint64_t sample_every() const noexcept { return sample_every_.load(std::memory_order_relaxed); }
    // Whether this message is traced: the same answer in every layer (barring a reload of
    // `sample_every` while the message is on its way).
    bool sampled(std::uint64_t message_id) const noexcept {
        if (!enabled()) {
            return false;
        }
        const std::uint64_t n = sample_every_.load(std::memory_order_relaxed);
        if (n <= 1) {
            return true;
        }
        // Snowflake ids are sequential in their low bits: mix them (splitmix64's finalizer)
        // so that the pick does not follow the sender or the time.
        std::uint64_t z = message_id;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        return z % n == 0;
    }

    // Starts the trace of a message (replacing one with the same id).
    void begin(std::uint64_t message_id, std::string_view trace_id,
               std::string_view conversation_id);
    // Appends an event to a message's trace; a message without a trace is ignored.
    void add(std::uint64_t message_id, trace_stage stage, std::uint64_t a, std::uint64_t b = 0);
    // Appends a `pushed` event per (user id, session id) with one timestamp, under one lock:
    // a large group's share of recipients costs the trace one lock, not one per recipient.
    void add_pushed(std::uint64_t message_id,
                    std::span<const std::pair<std::uint64_t, std::uint64_t>> recipients);
    // The trace id of a traced message, or empty.
    std::string trace_id_of(std::uint64_t message_id) const;
    std::optional<message_trace> find(std::uint64_t message_id) const;
    std::size_t size() const;
    void clear();

private:
    static constexpr std::size_t shard_count = 16;
    struct shard {
        mutable std::mutex mutex;
        std::unordered_map<std::uint64_t, message_trace> traces;
        std::deque<std::uint64_t> order;  // insertion order, for eviction
    };
    shard& shard_of(std::uint64_t id) { return shards_[id % shard_count]; }
    const shard& shard_of(std::uint64_t id) const { return shards_[id % shard_count]; }

    std::atomic<std::size_t> capacity_;
    std::atomic<std::uint64_t> sample_every_{1};
    const std::size_t max_events_;
    std::array<shard, shard_count> shards_;
};

// The process's buffer, like the process's log: every layer records into it without a
// dependency to thread through (app sets its capacity from config; 0 until then).
message_traces& traces();

// Microseconds since the Unix epoch, for trace events.
std::int64_t trace_now_us();

}  // namespace monochat::infra
