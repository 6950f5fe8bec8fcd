#pragma once
// Snowflake ids: 41 bits of milliseconds since 2024-01-01, 10 bits of node id, 12 bits of
// sequence. Ids from one generator are unique and strictly increasing; generators on different
// nodes never collide. Used for users, groups, messages and friend requests.
// Thread-safety: next() may be called from any thread.

#include <cstdint>
#include <mutex>
#include <monochat/infra/clock.hpp>

namespace monochat::infra {

class id_generator {
public:
    static constexpr std::int64_t epoch_ms = 1'704'067'200'000;  // 2024-01-01T00:00:00Z
    static constexpr unsigned node_bits = 10;
    static constexpr unsigned sequence_bits = 12;

    // `node` must be below 1024.
    id_generator(const clock& clk, std::uint32_t node);

    std::uint64_t next();

    // The creation time encoded in an id.
    static std::int64_t time_of(std::uint64_t id) {
        return static_cast<std::int64_t>(id >> (node_bits + sequence_bits)) + epoch_ms;
    }

private:
    const clock& clock_;
    std::uint32_t node_;
    std::mutex mutex_;
    std::int64_t last_ms_ = 0;
    std::uint32_t sequence_ = 0;
};

}  // namespace monochat::infra
