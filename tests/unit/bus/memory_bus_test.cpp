#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <monochat/bus/message_bus.hpp>
#include <monochat/infra/metrics.hpp>
#include <mutex>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using monochat::errc;

namespace {
std::shared_ptr<const std::string> bytes(std::string s) {
    return std::make_shared<const std::string>(std::move(s));
}

// Collects what a handler saw; waits for a count with a deadline.
struct collector {
    std::mutex m;
    std::condition_variable cv;
    std::map<std::string, std::vector<std::string>> by_key;
    std::size_t total = 0;

    void add(const monochat::bus::envelope& e) {
        std::lock_guard lock(m);
        by_key[e.key].push_back(*e.payload);
        ++total;
        cv.notify_all();
    }
    bool wait_for(std::size_t n) {
        std::unique_lock lock(m);
        return cv.wait_for(lock, 10s, [&] { return total >= n; });
    }
};
}  // namespace

TEST_CASE("messages with one key arrive in publish order", "[bus]") {
    monochat::infra::metrics_registry metrics;
    auto bus = monochat::bus::make_memory_bus(metrics);
    bus->declare("t", {4, 1024});
    collector c;
    auto sub = bus->subscribe("t", "g", [&](const auto& e) { c.add(e); });
    REQUIRE(sub.has_value());
    std::vector<std::thread> producers;
    for (int p = 0; p < 4; ++p) {
        producers.emplace_back([&, p] {
            for (int i = 0; i < 500; ++i) {
                REQUIRE(bus->publish("t", "key" + std::to_string(p), bytes(std::to_string(i))).has_value());
            }
        });
    }
    for (auto& t : producers) {
        t.join();
    }
    REQUIRE(c.wait_for(2000));
    for (int p = 0; p < 4; ++p) {
        const auto& seen = c.by_key["key" + std::to_string(p)];
        REQUIRE(seen.size() == 500);
        for (int i = 0; i < 500; ++i) {
            REQUIRE(seen[static_cast<std::size_t>(i)] == std::to_string(i));
        }
    }
}

TEST_CASE("every subscription receives every message", "[bus]") {
    monochat::infra::metrics_registry metrics;
    auto bus = monochat::bus::make_memory_bus(metrics);
    bus->declare("t", {2, 16});
    collector a;
    collector b;
    auto sa = bus->subscribe("t", "a", [&](const auto& e) { a.add(e); });
    auto sb = bus->subscribe("t", "b", [&](const auto& e) { b.add(e); });
    for (int i = 0; i < 10; ++i) {
        REQUIRE(bus->publish("t", "k", bytes("m")).has_value());
    }
    CHECK(a.wait_for(10));
    CHECK(b.wait_for(10));
}

TEST_CASE("a full partition makes try_publish fail and publish wait", "[bus]") {
    monochat::infra::metrics_registry metrics;
    auto bus = monochat::bus::make_memory_bus(metrics);
    bus->declare("t", {1, 2});
    std::mutex gate;
    gate.lock();  // the handler blocks until released
    collector c;
    auto sub = bus->subscribe("t", "g", [&](const auto& e) {
        std::lock_guard lock(gate);
        c.add(e);
    });
    // The first message is taken by the consumer (blocked in the handler); two fill the queue.
    REQUIRE(bus->try_publish("t", "k", bytes("1")).has_value());
    std::this_thread::sleep_for(50ms);
    REQUIRE(bus->try_publish("t", "k", bytes("2")).has_value());
    REQUIRE(bus->try_publish("t", "k", bytes("3")).has_value());
    auto full = bus->try_publish("t", "k", bytes("4"));
    REQUIRE_FALSE(full.has_value());
    CHECK(full.error().code == errc::unavailable);
    auto timed_out = bus->publish("t", "k", bytes("4"), {}, 20ms);
    REQUIRE_FALSE(timed_out.has_value());
    CHECK(timed_out.error().code == errc::unavailable);
    CHECK_THAT(metrics.render(), Catch::Contains("monochat_queue_depth{queue=\"bus:t:g\"} 2"));
    gate.unlock();
    REQUIRE(bus->publish("t", "k", bytes("4"), {}, 5000ms).has_value());
    CHECK(c.wait_for(4));
}

TEST_CASE("unknown topics and a shut-down bus are refused", "[bus]") {
    monochat::infra::metrics_registry metrics;
    auto bus = monochat::bus::make_memory_bus(metrics);
    auto r = bus->try_publish("nope", "k", bytes("x"));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
    bus->declare("t", {});
    bus->shutdown();
    auto after = bus->try_publish("t", "k", bytes("x"));
    REQUIRE_FALSE(after.has_value());
    CHECK(after.error().code == errc::unavailable);
}

TEST_CASE("a stopped subscription receives nothing more", "[bus]") {
    monochat::infra::metrics_registry metrics;
    auto bus = monochat::bus::make_memory_bus(metrics);
    bus->declare("t", {1, 16});
    std::atomic<int> seen{0};
    auto sub = bus->subscribe("t", "g", [&](const auto&) { ++seen; });
    REQUIRE(sub.has_value());
    REQUIRE(bus->publish("t", "k", bytes("a")).has_value());
    REQUIRE(monochat::bus::envelope{}.payload == nullptr);
    (*sub)->stop();
    const int before = seen.load();
    REQUIRE(bus->publish("t", "k", bytes("b")).has_value());
    std::this_thread::sleep_for(20ms);
    CHECK(seen.load() == before);
}
