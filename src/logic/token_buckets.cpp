#include "logic/token_buckets.hpp"

#include <algorithm>

namespace monochat::logic {

double token_buckets::take(std::uint64_t key, double rate, double burst) {
    const auto now = clock_.now_ms();
    auto& s = shards_[key % shard_count];
    std::lock_guard lock(s.mutex);
    if (s.buckets.size() >= max_per_shard && s.buckets.count(key) == 0) {
        // A full bucket holds no state worth keeping: it equals a fresh one.
        std::erase_if(s.buckets, [&](const auto& kv) {
            const auto& b = kv.second;
            return b.tokens + rate * static_cast<double>(now - b.at_ms) / 1000.0 >= b.burst;
        });
    }
    auto [it, fresh] = s.buckets.try_emplace(key, bucket{burst, now, burst});
    auto& b = it->second;
    if (!fresh) {
        b.tokens = std::min(burst, b.tokens + rate * static_cast<double>(now - b.at_ms) / 1000.0);
        b.at_ms = now;
        b.burst = burst;
    }
    if (b.tokens >= 1.0) {
        b.tokens -= 1.0;
        return 0;
    }
    return (1.0 - b.tokens) / rate;
}

void token_buckets::refund(std::uint64_t key) {
    auto& s = shards_[key % shard_count];
    std::lock_guard lock(s.mutex);
    if (auto it = s.buckets.find(key); it != s.buckets.end()) {
        it->second.tokens = std::min(it->second.burst, it->second.tokens + 1.0);
    }
}

}  // namespace monochat::logic
