#include <monochat/logic/rate_limit.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace monochat::logic {

namespace {

constexpr std::int64_t i64max = std::numeric_limits<std::int64_t>::max();
// Idle keys are looked for at most this often when the map is full, so that a flood of new
// keys does not turn every call into a scan of the whole map.
constexpr std::int64_t sweep_interval_ms = 1000;

std::int64_t steady_ms(const infra::clock& clock) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               clock.steady_now().time_since_epoch())
        .count();
}

// Settings may be as large as int64 seconds: saturate instead of overflowing.
std::int64_t seconds_to_ms(std::int64_t s) { return s > i64max / 1000 ? i64max : s * 1000; }
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
    return b > i64max - a ? i64max : a + b;
}

int seconds_until(std::int64_t now_ms, std::int64_t then_ms) {
    const std::int64_t s = (then_ms - now_ms + 999) / 1000;
    return static_cast<int>(std::clamp<std::int64_t>(s, 1, std::numeric_limits<int>::max()));
}

}  // namespace

keyed_rate_limiter::keyed_rate_limiter(const infra::clock& clock, std::size_t max_keys)
    : clock_(clock), max_keys_(std::max<std::size_t>(1, max_keys)) {}

status keyed_rate_limiter::acquire(std::string_view key, double capacity, double per_second) {
    const std::int64_t now = steady_ms(clock_);
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(std::string(key));
    if (it == buckets_.end()) {
        make_room(now, capacity, per_second);
        it = buckets_.emplace(std::string(key), bucket{capacity, now}).first;
    }
    bucket& b = it->second;
    const double elapsed_s = static_cast<double>(std::max<std::int64_t>(0, now - b.last_ms)) / 1000;
    b.tokens = std::min(capacity, b.tokens + elapsed_s * per_second);
    b.last_ms = now;
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return {};
    }
    error e = make_error(errc::rate_limited, "too many requests; retry later");
    const double wait_s = per_second > 0 ? std::ceil((1 - b.tokens) / per_second) : 60;
    e.retry_after_s = static_cast<int>(std::clamp(wait_s, 1.0, 86400.0));
    return e;
}

void keyed_rate_limiter::make_room(std::int64_t now_ms, double capacity, double per_second) {
    if (buckets_.size() < max_keys_) {
        return;
    }
    if (now_ms - last_sweep_ms_ >= sweep_interval_ms) {
        last_sweep_ms_ = now_ms;
        // A bucket that has refilled completely is the same as no bucket.
        std::erase_if(buckets_, [&](const auto& kv) {
            const double elapsed_s = static_cast<double>(now_ms - kv.second.last_ms) / 1000;
            return kv.second.tokens + elapsed_s * per_second >= capacity;
        });
    }
    while (buckets_.size() >= max_keys_) {
        buckets_.erase(buckets_.begin());
    }
}

std::size_t keyed_rate_limiter::size() const {
    std::lock_guard lock(mutex_);
    return buckets_.size();
}

login_guard::login_guard(const infra::clock& clock, std::size_t max_keys)
    : clock_(clock), max_keys_(std::max<std::size_t>(1, max_keys)) {}

login_guard::verdict login_guard::check(std::string_view key, const login_guard_settings& s) {
    const std::int64_t now = steady_ms(clock_);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) {
        return {};
    }
    const entry& e = it->second;
    if (e.locked_until_ms > now) {
        return {true, seconds_until(now, e.locked_until_ms), e.failures};
    }
    const bool lock_over = e.locked_until_ms != 0;
    const bool window_over = now - e.window_start_ms >= seconds_to_ms(s.window_s);
    if (lock_over || window_over) {
        entries_.erase(it);
        return {};
    }
    return {false, 0, e.failures};
}

void login_guard::record_failure(std::string_view key, const login_guard_settings& s) {
    const std::int64_t now = steady_ms(clock_);
    std::lock_guard lock(mutex_);
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) {
        make_room(now, s);
        it = entries_.emplace(std::string(key), entry{0, now, 0}).first;
    }
    entry& e = it->second;
    if (e.locked_until_ms > now) {
        return;  // attempts while locked are refused before they are checked
    }
    if (e.locked_until_ms != 0 || now - e.window_start_ms >= seconds_to_ms(s.window_s)) {
        e = entry{0, now, 0};
    }
    ++e.failures;
    if (e.failures >= s.max_failures) {
        e.locked_until_ms = saturating_add(now, seconds_to_ms(s.lockout_s));
    }
}

void login_guard::record_success(std::string_view key) {
    std::lock_guard lock(mutex_);
    entries_.erase(std::string(key));
}

void login_guard::make_room(std::int64_t now_ms, const login_guard_settings& s) {
    if (entries_.size() < max_keys_) {
        return;
    }
    if (now_ms - last_sweep_ms_ >= sweep_interval_ms) {
        last_sweep_ms_ = now_ms;
        const std::int64_t window = seconds_to_ms(s.window_s);
        std::erase_if(entries_, [&](const auto& kv) {
            const entry& e = kv.second;
            return e.locked_until_ms != 0 ? e.locked_until_ms <= now_ms
                                           : now_ms - e.window_start_ms >= window;
        });
    }
    while (entries_.size() >= max_keys_) {
        entries_.erase(entries_.begin());
    }
}

std::size_t login_guard::size() const {
    std::lock_guard lock(mutex_);
    return entries_.size();
}

std::chrono::milliseconds login_delay(std::int64_t failures, std::chrono::milliseconds base,
                                      std::chrono::milliseconds cap) noexcept {
    if (failures <= 0 || base.count() <= 0) {
        return std::chrono::milliseconds(0);
    }
    std::int64_t d = base.count();
    for (std::int64_t i = 1; i < failures && d < cap.count(); ++i) {
        d *= 2;
    }
    return std::chrono::milliseconds(std::min(d, cap.count()));
}

}  // namespace monochat::logic
