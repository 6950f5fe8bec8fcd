#include "gateway/connection_limits.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <monochat/infra/clock.hpp>

using namespace monochat;
using namespace monochat::gateway;
using namespace std::chrono_literals;

TEST_CASE("an address is admitted up to its open-connection cap and again after a release",
          "[gateway][limits]") {
    infra::manual_clock clock;
    address_admission a(clock);
    const address_settings s{2, 0, 1};
    CHECK(a.admit("10.0.0.1", s).outcome == address_admission::verdict::admitted);
    CHECK(a.admit("10.0.0.1", s).outcome == address_admission::verdict::admitted);
    const auto third = a.admit("10.0.0.1", s);
    CHECK(third.outcome == address_admission::verdict::too_many_from_address);
    CHECK(third.retry_after_s == 1);
    CHECK(a.admit("10.0.0.2", s).outcome == address_admission::verdict::admitted);
    CHECK(a.open_from("10.0.0.1") == 2);
    a.release("10.0.0.1");
    CHECK(a.admit("10.0.0.1", s).outcome == address_admission::verdict::admitted);
    a.release("10.0.0.1");
    a.release("10.0.0.1");
    CHECK(a.open_from("10.0.0.1") == 0);
    a.release("10.0.0.1");  // an extra release is harmless
    CHECK(a.open_from("10.0.0.1") == 0);
}

TEST_CASE("zero means no per-address limit", "[gateway][limits]") {
    infra::manual_clock clock;
    address_admission a(clock);
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(a.admit("10.0.0.1", {0, 0, 1}).outcome == address_admission::verdict::admitted);
    }
    CHECK(a.rate_keys() == 0);
}

TEST_CASE("new connections per address follow a token bucket that refills with the clock",
          "[gateway][limits]") {
    infra::manual_clock clock;
    address_admission a(clock, 4);
    const address_settings s{0, 2, 3};  // 2 per second, burst 3
    for (int i = 0; i < 3; ++i) {
        REQUIRE(a.admit("10.0.0.1", s).outcome == address_admission::verdict::admitted);
    }
    const auto over = a.admit("10.0.0.1", s);
    CHECK(over.outcome == address_admission::verdict::rate_limited);
    CHECK(over.retry_after_s == 1);
    CHECK(a.admit("10.0.0.2", s).outcome == address_admission::verdict::admitted);
    clock.advance(500ms);
    CHECK(a.admit("10.0.0.1", s).outcome == address_admission::verdict::admitted);
    CHECK(a.admit("10.0.0.1", s).outcome == address_admission::verdict::rate_limited);
    // The bucket map stays bounded however many addresses come.
    for (int i = 0; i < 100; ++i) {
        (void)a.admit("10.1.0." + std::to_string(i), s);
    }
    CHECK(a.rate_keys() <= 4);
}

TEST_CASE("per-address keys are IPv4 addresses and IPv6 /64 prefixes", "[gateway][limits]") {
    const unsigned char v4[4] = {192, 168, 1, 20};
    CHECK(address_key(false, v4) == "192.168.1.20");
    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9};
    CHECK(address_key(true, v6) == "2001:db8:1:2::/64");
    v6[15] = 1;
    CHECK(address_key(true, v6) == "2001:db8:1:2::/64");
    const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    CHECK(address_key(true, mapped) == "127.0.0.1");
}

TEST_CASE("a frame bucket refuses past its burst and calls a sustained flood flooding",
          "[gateway][limits]") {
    frame_bucket b;
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    for (int i = 0; i < 4; ++i) {
        REQUIRE(b.take(t, 1, 4).outcome == frame_bucket::verdict::accepted);
    }
    const auto refused = b.take(t, 1, 4);
    CHECK(refused.outcome == frame_bucket::verdict::refused);
    CHECK(refused.retry_after_s == 1);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(b.take(t, 1, 4).outcome == frame_bucket::verdict::refused);
    }
    CHECK(b.take(t, 1, 4).outcome == frame_bucket::verdict::flooding);
    // A second later each bucket has one token again.
    t += 1s;
    CHECK(b.take(t, 1, 4).outcome == frame_bucket::verdict::accepted);
    CHECK(b.take(t, 1, 4).outcome == frame_bucket::verdict::refused);
}

TEST_CASE("a client at almost twice the frame rate gets errors but is never called flooding",
          "[gateway][limits]") {
    frame_bucket b;
    auto t = std::chrono::steady_clock::time_point{} + 1h;
    int accepted = 0;
    for (int i = 0; i < 10000; ++i) {
        t += 55ms;  // 18 frames per second against a rate of 10, for 550 s
        const auto d = b.take(t, 10, 20);
        REQUIRE(d.outcome != frame_bucket::verdict::flooding);
        accepted += d.outcome == frame_bucket::verdict::accepted;
    }
    // The burst, then the rate.
    CHECK(accepted >= 20 + 5490);
    CHECK(accepted <= 20 + 5500);
    CHECK(frame_bucket{}.take(t, 0, 1).outcome == frame_bucket::verdict::accepted);
}

// Issue 17: the login and registration limits keyed on the full IPv6 address, so one host with
// a /64 had 2^64 budgets. They now use this key, the one the connection limits use.
TEST_CASE("an address's text gives the per-address key: IPv4, or the IPv6 /64", "[gateway][limits]") {
    CHECK(address_key(std::string_view("192.0.2.7")) == "192.0.2.7");
    CHECK(address_key(std::string_view("2001:db8:1:2::1")) == "2001:db8:1:2::/64");
    CHECK(address_key(std::string_view("2001:db8:1:2:ffff:ffff:ffff:fffe")) == "2001:db8:1:2::/64");
    CHECK(address_key(std::string_view("2001:db8:1:3::1")) == "2001:db8:1:3::/64");
    CHECK(address_key(std::string_view("::ffff:198.51.100.4")) == "198.51.100.4");
    CHECK(address_key(std::string_view("::1")) == "0:0:0:0::/64");
    CHECK(address_key(std::string_view("not an address")) == "not an address");
}
