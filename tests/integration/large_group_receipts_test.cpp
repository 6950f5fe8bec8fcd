// Contract v1.1, "Large groups": above fanout.large_group_threshold a receipt goes only to the
// reader's own other connections, and `readers` still answers for everyone. A small group's
// receipt still reaches the other members.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "support/api.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("a large group's receipt reaches only the reader's other connections",
          "[integration][receipts]") {
    auto cfg = fast_test_config();
    cfg["fanout"]["large_group_threshold"] = 2;
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, unique_name("alice"));
    const auto bob = register_user(http, unique_name("bob"));
    const auto carol = register_user(http, unique_name("carol"));
    befriend(http, alice, bob);
    befriend(http, alice, carol);
    befriend(http, bob, carol);
    const std::string big = "group:" + create_group(http, alice, {bob, carol});   // 3 > 2
    const std::string small = "group:" + create_group(http, alice, {bob});        // 2 <= 2

    ws_client a(server.host(), server.port(), alice.token);
    ws_client b1(server.host(), server.port(), bob.token);
    ws_client b2(server.host(), server.port(), bob.token);
    for (const auto& cid : {big, small}) {
        REQUIRE(http.post("/api/v1/conversations/" + cid + "/messages",
                          {{"client_msg_id", "m-" + cid}, {"body", {{"type", "text"}, {"text", "hi"}}}},
                          alice.token)
                    .status == 201);
    }

    b1.send({{"type", "read"}, {"conversation_id", big}, {"seq", 1}});
    const auto own = b2.expect("receipt");
    CHECK(own["conversation_id"] == big);
    CHECK(own["user_id"] == bob.user_id);
    // The sender hears nothing of a large group's read; then a small group's read does reach
    // her (receipts of one reader arrive in order, so nothing of the large one is still due).
    b1.send({{"type", "read"}, {"conversation_id", small}, {"seq", 1}});
    const auto seen = a.expect("receipt");
    CHECK(seen["conversation_id"] == small);
    std::this_thread::sleep_for(200ms);
    CHECK(a.pending("receipt") == 0);

    // `readers` still counts everyone in the large group.
    const auto readers = http.get("/api/v1/conversations/" + big + "/messages/1/readers", alice.token).json();
    CHECK(readers["read_count"] == 2);  // alice (the sender) and bob
    CHECK(readers["member_count"] == 3);
}
