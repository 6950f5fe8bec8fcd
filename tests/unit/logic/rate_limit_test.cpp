#include <monochat/logic/rate_limit.hpp>

#include <catch2/catch.hpp>
#include <chrono>
#include <limits>
#include <string>

namespace monochat::logic {
namespace {

using namespace std::chrono_literals;

TEST_CASE("a bucket allows its capacity at once, then refills at its rate", "[logic][rate]") {
    infra::manual_clock clock;
    keyed_rate_limiter limiter(clock);
    // 30 per minute: a burst of 30, then one every 2 s.
    for (int i = 0; i < 30; ++i) {
        REQUIRE(limiter.acquire("addr:1", 30, 0.5).has_value());
    }
    const auto refused = limiter.acquire("addr:1", 30, 0.5);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == errc::rate_limited);
    CHECK(refused.error().retry_after_s == 2);
    // Other keys are not affected.
    CHECK(limiter.acquire("addr:2", 30, 0.5).has_value());
    clock.advance(1s);
    CHECK_FALSE(limiter.acquire("addr:1", 30, 0.5).has_value());
    clock.advance(1s);
    CHECK(limiter.acquire("addr:1", 30, 0.5).has_value());
    CHECK_FALSE(limiter.acquire("addr:1", 30, 0.5).has_value());
}

TEST_CASE("a rate change applies at once and the bucket never exceeds its capacity",
          "[logic][rate]") {
    infra::manual_clock clock;
    keyed_rate_limiter limiter(clock);
    REQUIRE(limiter.acquire("k", 2, 1).has_value());
    REQUIRE(limiter.acquire("k", 2, 1).has_value());
    REQUIRE_FALSE(limiter.acquire("k", 2, 1).has_value());
    clock.advance(1h);
    // A long idle time refills to the capacity, not beyond it.
    CHECK(limiter.acquire("k", 2, 1).has_value());
    CHECK(limiter.acquire("k", 2, 1).has_value());
    CHECK_FALSE(limiter.acquire("k", 2, 1).has_value());
}

TEST_CASE("the limiter keeps a bounded number of keys", "[logic][rate]") {
    infra::manual_clock clock;
    keyed_rate_limiter limiter(clock, 100);
    for (int i = 0; i < 1000; ++i) {
        (void)limiter.acquire("addr:" + std::to_string(i), 5, 1);
        clock.advance(1ms);
    }
    CHECK(limiter.size() <= 100);
}

TEST_CASE("login failures lock a key at the maximum for the lockout time", "[logic][rate]") {
    infra::manual_clock clock;
    login_guard guard(clock);
    const login_guard_settings s{3, 300, 60};
    CHECK(guard.check("user:alice", s).failures == 0);
    guard.record_failure("user:alice", s);
    guard.record_failure("user:alice", s);
    auto v = guard.check("user:alice", s);
    CHECK_FALSE(v.locked);
    CHECK(v.failures == 2);
    guard.record_failure("user:alice", s);
    v = guard.check("user:alice", s);
    REQUIRE(v.locked);
    CHECK(v.retry_after_s == 60);
    CHECK_FALSE(guard.check("user:bob", s).locked);
    clock.advance(59s);
    CHECK(guard.check("user:alice", s).locked);
    CHECK(guard.check("user:alice", s).retry_after_s == 1);
    clock.advance(1s);
    // After the lockout the key starts afresh.
    v = guard.check("user:alice", s);
    CHECK_FALSE(v.locked);
    CHECK(v.failures == 0);
}

TEST_CASE("failures outside the window are forgotten and a success clears them",
          "[logic][rate]") {
    infra::manual_clock clock;
    login_guard guard(clock);
    const login_guard_settings s{3, 10, 60};
    guard.record_failure("k", s);
    guard.record_failure("k", s);
    clock.advance(10s);
    CHECK(guard.check("k", s).failures == 0);
    guard.record_failure("k", s);
    guard.record_failure("k", s);
    CHECK_FALSE(guard.check("k", s).locked);  // a fresh window: two, not four
    guard.record_success("k");
    CHECK(guard.check("k", s).failures == 0);
}

TEST_CASE("huge windows and lockouts saturate instead of overflowing", "[logic][rate]") {
    infra::manual_clock clock;
    login_guard guard(clock);
    const login_guard_settings s{1, std::numeric_limits<std::int64_t>::max(),
                                 std::numeric_limits<std::int64_t>::max()};
    guard.record_failure("k", s);
    const auto v = guard.check("k", s);
    CHECK(v.locked);
    CHECK(v.retry_after_s > 0);
}

TEST_CASE("the login guard keeps a bounded number of keys", "[logic][rate]") {
    infra::manual_clock clock;
    login_guard guard(clock, 50);
    const login_guard_settings s{10, 300, 300};
    for (int i = 0; i < 500; ++i) {
        guard.record_failure("addr:" + std::to_string(i), s);
    }
    CHECK(guard.size() <= 50);
}

TEST_CASE("the login delay doubles with each failure up to its cap", "[logic][rate]") {
    CHECK(login_delay(0, 100ms, 2000ms) == 0ms);
    CHECK(login_delay(1, 100ms, 2000ms) == 100ms);
    CHECK(login_delay(2, 100ms, 2000ms) == 200ms);
    CHECK(login_delay(4, 100ms, 2000ms) == 800ms);
    CHECK(login_delay(5, 100ms, 2000ms) == 1600ms);
    CHECK(login_delay(6, 100ms, 2000ms) == 2000ms);
    CHECK(login_delay(1000000, 100ms, 2000ms) == 2000ms);
}

}  // namespace
}  // namespace monochat::logic
