// Typing floods (issue 17, protocol 1.1 "Typing"), against the real binary: typing is pushed at
// most once per 3 s per user and conversation, never in world and never in groups above
// fanout.large_group_threshold. Before, ten guests' 2,690 typing frames all reached every
// world subscriber.

#include <catch2/catch.hpp>
#include <thread>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json typing(const std::string& cid) { return {{"type", "typing"}, {"conversation_id", cid}}; }

// The typing frames `ws` has received so far (after a pause for the ones on their way: typing
// is a hint with no ack to wait for).
std::size_t typing_received(ws_client& ws) {
    std::this_thread::sleep_for(400ms);
    return ws.pending("typing");
}

}  // namespace

TEST_CASE("typing is pushed once per 3 s per user and conversation, the rest dropped quietly",
          "[integration][typing]") {
    auto cfg = fast_test_config();
    cfg["fanout"]["large_group_threshold"] = 10;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto alice = register_user(http, unique_name("alice"));
    auto bob = register_user(http, unique_name("bob"));
    auto carol = register_user(http, unique_name("carol"));
    befriend(http, alice, bob);
    befriend(http, alice, carol);
    const auto dm = dm_id(alice, bob);
    const auto group = "group:" + create_group(http, alice, {bob, carol});

    ws_client a(server.host(), server.port(), alice.token);
    ws_client b(server.host(), server.port(), bob.token);
    ws_client c(server.host(), server.port(), carol.token);
    b.drain();

    // A burst in the direct chat: one push.
    for (int i = 0; i < 20; ++i) {
        a.send(typing(dm));
    }
    auto first = b.expect("typing");
    CHECK(first["conversation_id"] == dm);
    CHECK(first["user_id"] == alice.user_id);
    CHECK(typing_received(b) == 0);
    // No error for the dropped ones: they are dropped quietly.
    CHECK(a.pending("error") == 0);

    // Another conversation of the same user, and another user in the same conversation, each
    // get their own push.
    a.send(typing(group));
    CHECK(b.expect("typing")["conversation_id"] == group);
    CHECK(c.expect("typing")["conversation_id"] == group);
    c.send(typing(group));
    c.send(typing(group));
    auto from_carol = b.expect("typing");
    CHECK(from_carol["user_id"] == carol.user_id);
    CHECK(typing_received(b) == 0);

    // After the interval the next one goes out again.
    std::this_thread::sleep_for(3100ms);
    b.drain();
    a.send(typing(dm));
    a.send(typing(dm));
    CHECK(b.expect("typing")["conversation_id"] == dm);
    CHECK(typing_received(b) == 0);
}

TEST_CASE("typing is never pushed in world or in a group above the fan-out threshold",
          "[integration][typing]") {
    auto cfg = fast_test_config();
    cfg["fanout"]["large_group_threshold"] = 2;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto alice = register_user(http, unique_name("alice"));
    auto bob = register_user(http, unique_name("bob"));
    auto carol = register_user(http, unique_name("carol"));
    befriend(http, alice, bob);
    befriend(http, alice, carol);
    const auto small = "group:" + create_group(http, alice, {bob});
    const auto large = "group:" + create_group(http, alice, {bob, carol});  // 3 members > 2

    ws_client a(server.host(), server.port(), alice.token);
    ws_client b(server.host(), server.port(), bob.token);
    auto g = guest(http, "lurker");
    ws_client watcher(server.host(), server.port(), g.token);
    for (auto* ws : {&a, &b, &watcher}) {
        ws->send({{"type", "subscribe"}, {"id", "w"}, {"conversation_id", "world"}});
        CHECK(ws->expect("ok")["id"] == "w");
    }
    b.drain();

    for (int i = 0; i < 5; ++i) {
        a.send(typing("world"));
    }
    a.send(typing(large));
    CHECK(typing_received(b) == 0);
    CHECK(typing_received(watcher) == 0);
    CHECK(a.pending("error") == 0);

    // The small group still gets it: the pushes above were not lost to a broken path.
    a.send(typing(small));
    CHECK(b.expect("typing")["conversation_id"] == small);
    CHECK(typing_received(watcher) == 0);
}
