#pragma once
// Limits keyed by a client address, a username or a user: a token bucket for request rates and
// a failure counter with lockout for logins. Both read an infra::clock (tests use a manual one)
// and keep a bounded number of keys: past `max_keys` the idle keys are dropped first, then
// arbitrary ones, so a flood of distinct keys costs memory once, never without bound.
//
// Thread-safety: every member may be called from any thread (one mutex each; no I/O inside).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/result.hpp>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace monochat::logic {

// A token bucket per key: `capacity` tokens, refilled at `per_second`. A new key starts full.
class keyed_rate_limiter {
public:
    explicit keyed_rate_limiter(const infra::clock& clock, std::size_t max_keys = 100000);

    // Takes one token for `key`, or answers rate_limited with retry_after_s set to the seconds
    // until the next token (at least 1). capacity and per_second are passed per call so that a
    // configuration reload applies at once. per_second must be positive.
    [[nodiscard]] status acquire(std::string_view key, double capacity, double per_second);

    [[nodiscard]] std::size_t size() const;

private:
    struct bucket {
        double tokens = 0;
        std::int64_t last_ms = 0;
    };
    void make_room(std::int64_t now_ms, double capacity, double per_second);

    const infra::clock& clock_;
    const std::size_t max_keys_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, bucket> buckets_;
    std::int64_t last_sweep_ms_ = 0;
};

struct login_guard_settings {
    std::int64_t max_failures = 10;  // auth.login_max_failures
    std::int64_t window_s = 300;     // auth.login_failure_window_s
    std::int64_t lockout_s = 300;    // auth.login_lockout_s
};

// Failed logins per key (the guard is used with one key per username and one per client
// address). Failures are counted within a window that starts at the first failure; the
// `max_failures`-th failure locks the key for `lockout_s`, after which it starts afresh.
class login_guard {
public:
    explicit login_guard(const infra::clock& clock, std::size_t max_keys = 100000);

    struct verdict {
        bool locked = false;
        int retry_after_s = 0;       // when locked: seconds until the lockout ends (at least 1)
        std::int64_t failures = 0;   // recent failures, for the slow-down delay
    };
    [[nodiscard]] verdict check(std::string_view key, const login_guard_settings& s);
    void record_failure(std::string_view key, const login_guard_settings& s);
    // A successful login clears the key's failures.
    void record_success(std::string_view key);

    [[nodiscard]] std::size_t size() const;

private:
    struct entry {
        std::int64_t failures = 0;
        std::int64_t window_start_ms = 0;
        std::int64_t locked_until_ms = 0;
    };
    void make_room(std::int64_t now_ms, const login_guard_settings& s);

    const infra::clock& clock_;
    const std::size_t max_keys_;
    mutable std::mutex mutex_;
    std::unordered_map<std::string, entry> entries_;
    std::int64_t last_sweep_ms_ = 0;
};

// The slow-down before checking a password after `failures` recent failures: none for 0, then
// `base`, doubling with each failure, never above `cap`.
[[nodiscard]] std::chrono::milliseconds login_delay(std::int64_t failures,
                                                    std::chrono::milliseconds base,
                                                    std::chrono::milliseconds cap) noexcept;

}  // namespace monochat::logic
