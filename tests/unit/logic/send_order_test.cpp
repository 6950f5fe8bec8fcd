// The lanes behind contract v1.1's send order (logic/send_order.hpp).

#include "logic/send_order.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

namespace net = boost::asio;
using monochat::logic::send_order;

namespace {

// A send that takes its turn at once, waits `delay_ms` (its checks), records itself, releases.
net::awaitable<void> send(send_order& order, std::uint64_t session, std::string conv, int n,
                          int delay_ms, std::vector<std::string>& log) {
    auto turn = order.take(session, conv);
    co_await turn.wait();
    net::steady_timer t(co_await net::this_coro::executor, std::chrono::milliseconds(delay_ms));
    co_await t.async_wait(net::use_awaitable);
    log.push_back(conv + std::to_string(n));
    turn.release();
}

}  // namespace

TEST_CASE("send order: a slow earlier send is not overtaken in its lane", "[logic][send_order]") {
    net::io_context ioc;
    send_order order;
    std::vector<std::string> log;
    // Send 0 takes 30 ms, the later ones 1 ms: without the lane, 1..4 would land first.
    net::co_spawn(ioc, send(order, 7, "dm", 0, 30, log), net::detached);
    for (int i = 1; i < 5; ++i) {
        net::co_spawn(ioc, send(order, 7, "dm", i, 1, log), net::detached);
    }
    ioc.run();
    CHECK(log == std::vector<std::string>{"dm0", "dm1", "dm2", "dm3", "dm4"});
    CHECK(order.lanes() == 0);
}

TEST_CASE("send order: other conversations and other sessions do not wait", "[logic][send_order]") {
    net::io_context ioc;
    send_order order;
    std::vector<std::string> log;
    net::co_spawn(ioc, send(order, 7, "a", 0, 40, log), net::detached);
    net::co_spawn(ioc, send(order, 7, "b", 0, 1, log), net::detached);
    net::co_spawn(ioc, send(order, 8, "a", 0, 1, log), net::detached);
    // Session 0 (an HTTP send) never waits either.
    net::co_spawn(ioc, send(order, 0, "a", 9, 1, log), net::detached);
    ioc.run();
    REQUIRE(log.size() == 4);
    CHECK(log.back() == "a0");
    CHECK(order.lanes() == 0);
}

TEST_CASE("send order: a turn released by its destructor, and a turn never awaited past",
          "[logic][send_order]") {
    send_order order;
    {
        auto t0 = order.take(1, "c");
        auto t1 = order.take(1, "c");
        CHECK(order.lanes() == 1);
        t0.release();
        t0.release();  // idempotent
        // t1 is now at the head; its destructor releases it.
    }
    CHECK(order.lanes() == 0);
    auto free_turn = order.take(0, "c");
    CHECK(order.lanes() == 0);
}
