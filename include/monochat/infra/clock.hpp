#pragma once
// Time as an injectable dependency (envoy's TimeSource): ids, rate limits, token expiry and
// edit windows read a clock, and tests use manual_clock instead of sleeping.
// Thread-safety: both implementations may be read from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace monochat::infra {

class clock {
public:
    virtual ~clock() = default;
    // Wall time: milliseconds since the Unix epoch (the protocol's `ts`).
    virtual std::int64_t now_ms() const = 0;
    // Monotonic time for durations and deadlines.
    virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

class system_clock final : public clock {
public:
    std::int64_t now_ms() const override;
    std::chrono::steady_clock::time_point steady_now() const override;
};

// A clock that moves only when told to.
class manual_clock final : public clock {
public:
    explicit manual_clock(std::int64_t start_ms = 1'790'000'000'000) : ms_(start_ms) {}
    std::int64_t now_ms() const override { return ms_.load(); }
    std::chrono::steady_clock::time_point steady_now() const override {
        return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
    }
    void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

private:
    std::atomic<std::int64_t> ms_;
};

}  // namespace monochat::infra
