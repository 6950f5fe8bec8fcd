#pragma once
// Typing throttle (shared/protocol.md 1.1): a `typing` frame is pushed at most once per interval
// per user and conversation; the frames in between are dropped quietly. Ten guests once sent
// 2,690 typing frames in a few seconds and every member got each one.
//
// Memory: at most `max_entries` (user, conversation) pairs are remembered, split over shards.
// An entry older than the interval says nothing (the next frame is let through anyway), so a
// full shard first forgets those; a shard still full of unexpired entries drops the frame (a
// typing hint lost, never unbounded growth). The sweep runs only when a shard is full and some
// entry can have expired, so a flood against a full shard costs O(1) per frame.
//
// The interval and the bound are passed on every call, so that a reload applies at once.
// Thread-safety: any thread; one mutex per shard.

#include <array>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/clock.hpp>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace monochat::logic {

class typing_throttle {
public:
    explicit typing_throttle(const infra::clock& clock) : clock_(clock) {}

    // True when typing of `user_id` in `conversation_id` may be pushed now (and remembers it);
    // false when one was let through less than `interval_ms` ago, or when the table is full.
    // An interval of 0 or less lets everything through and remembers nothing.
    bool admit(std::uint64_t user_id, std::string_view conversation_id, std::int64_t interval_ms,
               std::size_t max_entries);

    // Entries held now, across all shards (for tests).
    std::size_t size();

private:
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::string, std::int64_t> last_ms;  // key -> time let through
        // No entry can expire before this time: a full shard skips its sweep until then.
        std::int64_t next_expiry_ms = 0;
    };
    static constexpr std::size_t shard_count = 16;

    const infra::clock& clock_;
    std::array<shard, shard_count> shards_;
};

}  // namespace monochat::logic
