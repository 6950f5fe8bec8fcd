// The typing throttle (issue 17): once per interval per user and conversation, bounded memory.

#include "logic/typing_throttle.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

namespace monochat::logic {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t interval = 3000;
constexpr std::size_t plenty = 100000;

TEST_CASE("typing passes once per interval per user and conversation", "[logic][typing]") {
    infra::manual_clock clock;
    typing_throttle t(clock);
    CHECK(t.admit(1, "dm:1:2", interval, plenty));
    for (int i = 0; i < 100; ++i) {
        CHECK_FALSE(t.admit(1, "dm:1:2", interval, plenty));
    }
    // Others are independent: another conversation, another user.
    CHECK(t.admit(1, "group:7", interval, plenty));
    CHECK(t.admit(2, "dm:1:2", interval, plenty));
    clock.advance(2999ms);
    CHECK_FALSE(t.admit(1, "dm:1:2", interval, plenty));
    clock.advance(1ms);
    CHECK(t.admit(1, "dm:1:2", interval, plenty));
    CHECK_FALSE(t.admit(1, "dm:1:2", interval, plenty));
    // A key made of a user and a conversation is not confused with another split of the text.
    CHECK(t.admit(11, "dm:1:2", interval, plenty));
}

TEST_CASE("an interval of 0 lets every frame through and remembers nothing", "[logic][typing]") {
    infra::manual_clock clock;
    typing_throttle t(clock);
    for (int i = 0; i < 10; ++i) {
        CHECK(t.admit(1, "dm:1:2", 0, plenty));
    }
    CHECK(t.size() == 0);
}

TEST_CASE("the table stays within its bound under many users, and forgets expired entries",
          "[logic][typing]") {
    infra::manual_clock clock;
    typing_throttle t(clock);
    constexpr std::size_t bound = 1600;  // 100 per shard
    std::size_t admitted = 0;
    for (std::uint64_t user = 1; user <= 20000; ++user) {
        admitted += t.admit(user, "world-ish:" + std::to_string(user % 7), interval, bound) ? 1 : 0;
    }
    CHECK(t.size() <= bound);
    CHECK(admitted <= bound);
    CHECK(admitted > bound / 2);  // the shards fill up before anything is dropped
    // Once the interval has passed, the old entries make room for new users.
    clock.advance(3s);
    std::size_t later = 0;
    for (std::uint64_t user = 30001; user <= 30100; ++user) {
        later += t.admit(user, "group:1", interval, bound) ? 1 : 0;
    }
    CHECK(later == 100);
    CHECK(t.size() <= bound);
}

}  // namespace
}  // namespace monochat::logic
