#pragma once
// Token buckets keyed by a 64-bit id (a user): `rate` tokens per second up to `burst`. The rate
// and burst are passed on every call so that a reload applies at once.
// Thread-safety: any thread; sharded locks.

#include <array>
#include <cstdint>
#include <monochat/infra/clock.hpp>
#include <mutex>
#include <unordered_map>

namespace monochat::logic {

class token_buckets {
public:
    explicit token_buckets(const infra::clock& clock) : clock_(clock) {}

    // Takes one token. Returns 0 when taken, else the seconds until one is available.
    double take(std::uint64_t key, double rate, double burst);
    // Gives a token back (a request that turned out not to count).
    void refund(std::uint64_t key);

private:
    struct bucket {
        double tokens = 0;
        std::int64_t at_ms = 0;
        double burst = 0;
    };
    struct shard {
        std::mutex mutex;
        std::unordered_map<std::uint64_t, bucket> buckets;
    };
    static constexpr std::size_t shard_count = 16;
    // A shard keeps at most this many buckets; full (idle) buckets go first when it is over.
    static constexpr std::size_t max_per_shard = 1 << 16;

    const infra::clock& clock_;
    std::array<shard, shard_count> shards_;
};

}  // namespace monochat::logic
