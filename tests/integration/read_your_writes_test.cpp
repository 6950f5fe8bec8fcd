// Contract v1.1, "Read your writes": once a client has the ack (or the 201) of a send, every
// read reflects it: the sender's read position, the conversation list (a new direct chat
// included), `readers`, history and sync. Before the fix the sender's read position and the
// direct chat's listing were written after the ack, and a list read right after three acks
// showed [last 3, read 2, unread 1] instead of [3, 3, 0].

#include <catch2/catch.hpp>
#include <string>

#include "support/api.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using json = nlohmann::json;

namespace {

json entry(http_client& http, const account& who, const std::string& cid) {
    const auto list = http.get("/api/v1/conversations", who.token);
    REQUIRE(list.status == 200);
    const auto body = list.json();
    for (const auto& c : body["conversations"]) {
        if (c["conversation_id"] == cid) {
            return c;
        }
    }
    return nullptr;
}

}  // namespace

TEST_CASE("right after the ack every read reflects the send", "[integration][read_your_writes]") {
    // The durable engine, as users run it: its group commit is where the race was.
    auto cfg = fast_test_config();
    cfg["storage"]["engine"] = "rocksdb";
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    // Rounds of fresh pairs: a new direct chat each time, read at once after the ack.
    for (int round = 0; round < 5; ++round) {
        const auto alice = register_user(http, unique_name("alice"));
        const auto bob = register_user(http, unique_name("bob"));
        befriend(http, alice, bob);
        const auto dm = dm_id(alice, bob);
        ws_client a(server.host(), server.port(), alice.token);
        for (int i = 1; i <= 3; ++i) {
            a.send({{"type", "send"},
                    {"id", std::to_string(i)},
                    {"conversation_id", dm},
                    {"client_msg_id", "m" + std::to_string(i)},
                    {"body", {{"type", "text"}, {"text", "hi " + std::to_string(i)}}}});
            CHECK(a.expect("ack")["seq"] == i);
        }
        INFO("round " << round);
        const auto mine = entry(http, alice, dm);
        REQUIRE(mine.is_object());
        CHECK(mine["last_seq"] == 3);
        CHECK(mine["read_seq"] == 3);
        CHECK(mine["unread"] == 0);
        // The new direct chat is in the peer's list too, all unread.
        const auto theirs = entry(http, bob, dm);
        REQUIRE(theirs.is_object());
        CHECK(theirs["last_seq"] == 3);
        CHECK(theirs["unread"] == 3);
        const auto readers = http.get("/api/v1/conversations/" + dm + "/messages/3/readers", alice.token).json();
        CHECK(readers["read_by"] == json::array({alice.user_id}));
        CHECK(readers["read_count"] == 1);
        // History and sync have it.
        CHECK(http.get("/api/v1/conversations/" + dm + "/messages", bob.token).json()["messages"].size() == 3);

        // The same over HTTP: the 201 is the ack.
        const auto sent = http.post("/api/v1/conversations/" + dm + "/messages",
                                    {{"client_msg_id", "h1"}, {"body", {{"type", "text"}, {"text", "over http"}}}},
                                    bob.token);
        REQUIRE(sent.status == 201);
        const auto bobs = entry(http, bob, dm);
        CHECK(bobs["last_seq"] == 4);
        CHECK(bobs["read_seq"] == 4);
        CHECK(bobs["unread"] == 0);
    }
}
