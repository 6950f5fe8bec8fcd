// Edits, recalls, reactions, replies, mentions and read receipts (issue 7), against the real
// binary: each operation is a message with its own seq; history and sync show each text
// message in its current state.

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <thread>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct group_fixture {
    server_process server;
    std::unique_ptr<http_client> http;
    account owner;
    account alice;
    account bob;
    std::string cid;

    explicit group_fixture(json cfg = fast_test_config()) : server(std::move(cfg)) {
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
        owner = register_user(*http, unique_name("owner"));
        alice = register_user(*http, unique_name("alice"));
        bob = register_user(*http, unique_name("bob"));
        cid = "group:" + create_group(*http, owner, {alice, bob});
    }

    http_reply send(const account& who, const std::string& cmid, const json& body) {
        return http->post("/api/v1/conversations/" + cid + "/messages",
                          {{"client_msg_id", cmid}, {"body", body}}, who.token);
    }
    std::uint64_t send_text(const account& who, const std::string& text) {
        auto r = send(who, unique_name("t"), {{"type", "text"}, {"text", text}});
        REQUIRE(r.status == 201);
        return r.json()["message"]["seq"].get<std::uint64_t>();
    }
    json message(std::uint64_t seq, const account& reader) {
        auto r = http->get("/api/v1/conversations/" + cid + "/messages?after_seq=" + std::to_string(seq - 1) +
                               "&limit=1",
                           reader.token);
        REQUIRE(r.status == 200);
        REQUIRE(r.json()["messages"].size() == 1);
        return r.json()["messages"][0];
    }
};

json edit(std::uint64_t seq, const std::string& text) {
    return {{"type", "edit"}, {"target_seq", seq}, {"text", text}};
}
json recall(std::uint64_t seq) { return {{"type", "recall"}, {"target_seq", seq}}; }
json reaction(std::uint64_t seq, const std::string& emoji, const std::string& op) {
    return {{"type", "reaction"}, {"target_seq", seq}, {"emoji", emoji}, {"op", op}};
}

}  // namespace

TEST_CASE("the sender edits a message, history shows the new text and edited_at",
          "[integration][operations]") {
    group_fixture g;
    const auto seq = g.send_text(g.alice, "helo");
    auto r = g.send(g.alice, "e1", edit(seq, "hello"));
    REQUIRE(r.status == 201);
    CHECK(r.json()["message"]["seq"] == seq + 1);  // the edit is a message of its own
    CHECK(r.json()["message"]["body"]["type"] == "edit");
    auto m = g.message(seq, g.bob);
    CHECK(m["body"]["text"] == "hello");
    CHECK(m["edited_at"].is_number());
    CHECK(g.send(g.bob, "e2", edit(seq, "hijack")).status == 403);
    CHECK(g.send(g.alice, "e3", edit(seq + 1, "edit an edit")).status == 400);
    CHECK(g.send(g.alice, "e4", edit(999, "nothing")).status == 404);
    CHECK(g.send(g.alice, "e5", {{"type", "edit"}, {"text", "no target"}}).status == 400);
    CHECK(g.message(seq, g.owner)["body"]["text"] == "hello");
}

TEST_CASE("edits and recalls past their windows are forbidden, but owners recall any time",
          "[integration][operations]") {
    auto cfg = fast_test_config();
    cfg["policy"] = {{"edit_window_s", 0}, {"recall_window_s", 0}};
    group_fixture g(cfg);
    const auto seq = g.send_text(g.alice, "too late");
    std::this_thread::sleep_for(20ms);
    CHECK(g.send(g.alice, "e", edit(seq, "x")).status == 403);
    CHECK(g.send(g.alice, "r", recall(seq)).status == 403);
    REQUIRE(g.send(g.owner, "r2", recall(seq)).status == 201);
    auto m = g.message(seq, g.bob);
    CHECK(m["recalled"] == true);
    CHECK_FALSE(m["body"].contains("text"));
}

TEST_CASE("the sender recalls within the window, others may not", "[integration][operations]") {
    group_fixture g;
    const auto seq = g.send_text(g.alice, "oops");
    CHECK(g.send(g.bob, "r0", recall(seq)).status == 403);
    REQUIRE(g.send(g.alice, "r1", recall(seq)).status == 201);
    auto m = g.message(seq, g.owner);
    CHECK(m["recalled"] == true);
    CHECK_FALSE(m["body"].contains("text"));
    CHECK(g.send(g.alice, "r2", edit(seq, "back")).status == 403);
    CHECK(g.send(g.bob, "r3", reaction(seq, "👍", "add")).status == 403);
}

TEST_CASE("reactions: one of a kind per user, removable, shown on the target", "[integration][operations]") {
    group_fixture g;
    const auto seq = g.send_text(g.owner, "vote");
    REQUIRE(g.send(g.alice, "a1", reaction(seq, "👍", "add")).status == 201);
    REQUIRE(g.send(g.alice, "a2", reaction(seq, "👍", "add")).status == 201);  // no double count
    REQUIRE(g.send(g.bob, "b1", reaction(seq, "👍", "add")).status == 201);
    REQUIRE(g.send(g.bob, "b2", reaction(seq, "🎉", "add")).status == 201);
    REQUIRE(g.send(g.bob, "b3", reaction(seq, "🎉", "remove")).status == 201);
    auto m = g.message(seq, g.owner);
    REQUIRE(m.contains("reactions"));
    CHECK(m["reactions"].size() == 1);
    // v1.1 shape: count, the first users in reaction order, and `me` for the reader.
    CHECK(m["reactions"]["👍"]["count"] == 2);
    CHECK(m["reactions"]["👍"]["users"] == json::array({g.alice.user_id, g.bob.user_id}));
    CHECK(m["reactions"]["👍"]["me"] == false);
    CHECK(g.message(seq, g.bob)["reactions"]["👍"]["me"] == true);
    CHECK(g.send(g.bob, "b4", reaction(seq, "👍", "wave")).status == 400);
    CHECK(g.send(g.bob, "b5", reaction(seq, "", "add")).status == 400);
}

TEST_CASE("a retried operation applies once", "[integration][operations]") {
    group_fixture g;
    const auto seq = g.send_text(g.owner, "count me");
    auto first = g.send(g.alice, "same", reaction(seq, "👍", "add"));
    REQUIRE(first.status == 201);
    REQUIRE(g.send(g.alice, "rm", reaction(seq, "👍", "remove")).status == 201);
    auto retry = g.send(g.alice, "same", reaction(seq, "👍", "add"));
    CHECK(retry.status == 200);
    CHECK(retry.json()["message"]["seq"] == first.json()["message"]["seq"]);
    CHECK_FALSE(g.message(seq, g.owner).contains("reactions"));
}

TEST_CASE("an offline device syncs the edit, the recall and the reactions", "[integration][operations]") {
    group_fixture g;
    const auto a = g.send_text(g.alice, "first");
    const auto b = g.send_text(g.alice, "second");
    // Bob is offline while these happen.
    REQUIRE(g.send(g.alice, "e", edit(a, "first, edited")).status == 201);
    REQUIRE(g.send(g.alice, "r", recall(b)).status == 201);
    REQUIRE(g.send(g.owner, "x", reaction(a, "❤️", "add")).status == 201);
    ws_client bob(g.server.host(), g.server.port(), g.bob.token);
    bob.send({{"type", "sync"}, {"id", "s"}, {"conversation_id", g.cid}, {"after_seq", 0}});
    auto page = bob.expect("sync_result");
    const auto& msgs = page["messages"];
    REQUIRE(msgs.size() == 5);  // two texts and three operations, as the log holds them
    CHECK(msgs[0]["body"]["text"] == "first, edited");
    CHECK(msgs[0]["edited_at"].is_number());
    CHECK(msgs[0]["reactions"]["❤️"] ==
          json({{"count", 1}, {"users", json::array({g.owner.user_id})}, {"me", false}}));
    CHECK(msgs[1]["recalled"] == true);
    CHECK(msgs[2]["body"]["type"] == "edit");
    CHECK(msgs[3]["body"]["type"] == "recall");
    CHECK(msgs[4]["body"]["type"] == "reaction");
}

TEST_CASE("replies and mentions are stored on the text, a reply to nothing is not_found",
          "[integration][operations]") {
    group_fixture g;
    const auto seq = g.send_text(g.alice, "question");
    auto r = g.send(g.bob, "reply",
                    {{"type", "text"}, {"text", "answer"}, {"reply_to", seq}, {"mentions", {g.alice.user_id}}});
    REQUIRE(r.status == 201);
    CHECK(r.json()["message"]["body"]["reply_to"] == seq);
    CHECK(r.json()["message"]["body"]["mentions"] == json::array({g.alice.user_id}));
    CHECK(g.send(g.bob, "r404", {{"type", "text"}, {"text", "?"}, {"reply_to", 999}}).status == 404);
    CHECK(g.send(g.bob, "m400", {{"type", "text"}, {"text", "?"}, {"mentions", {"abc"}}}).status == 400);
}

TEST_CASE("20 users adding and removing one reaction at once end in the state a replay gives",
          "[integration][operations]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    auto owner = register_user(http, unique_name("own"));
    std::vector<account> users;
    for (int i = 0; i < 20; ++i) {
        users.push_back(register_user(http, unique_name("r")));
    }
    const auto cid = "group:" + create_group(http, owner, users);
    auto target = http.post("/api/v1/conversations/" + cid + "/messages",
                            {{"client_msg_id", "target"}, {"body", {{"type", "text"}, {"text", "react"}}}},
                            owner.token);
    REQUIRE(target.status == 201);
    const auto seq = target.json()["message"]["seq"].get<std::uint64_t>();
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < users.size(); ++i) {
        threads.emplace_back([&, i] {
            ws_client c(server.host(), server.port(), users[i].token);
            for (int k = 0; k < 6; ++k) {
                const std::string op = (k + static_cast<int>(i)) % 2 == 0 ? "add" : "remove";
                c.send({{"type", "send"}, {"id", std::to_string(k)}, {"conversation_id", cid},
                        {"client_msg_id", "k" + std::to_string(k)},
                        {"body", {{"type", "reaction"}, {"target_seq", seq}, {"emoji", "🔥"}, {"op", op}}}});
            }
            for (int k = 0; k < 6; ++k) {
                c.expect("ack", 20s);
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    // Replay the log in seq order.
    std::set<std::string> expected;
    std::uint64_t after = 0;
    json target_state;
    for (;;) {
        auto page = http.get("/api/v1/conversations/" + cid + "/messages?limit=200&after_seq=" + std::to_string(after),
                             owner.token)
                        .json();
        for (const auto& m : page["messages"]) {
            if (m["seq"] == seq) {
                target_state = m;
            }
            if (m["body"]["type"] == "reaction") {
                if (m["body"]["op"] == "add") {
                    expected.insert(m["sender_id"].get<std::string>());
                } else {
                    expected.erase(m["sender_id"].get<std::string>());
                }
            }
            after = m["seq"].get<std::uint64_t>();
        }
        if (!page["has_more"].get<bool>()) {
            break;
        }
    }
    CHECK(after == seq + 120);
    // 20 users fit in the summary's first ten only partly: compare the count and the full list.
    std::uint64_t count = 0;
    if (target_state.contains("reactions")) {
        count = target_state["reactions"]["🔥"]["count"].get<std::uint64_t>();
        CHECK(target_state["reactions"]["🔥"]["users"].size() == std::min<std::size_t>(count, 10));
    }
    CHECK(count == expected.size());
    auto listed = http.get("/api/v1/conversations/" + cid + "/messages/" + std::to_string(seq) +
                               "/reactions?emoji=%F0%9F%94%A5&limit=100",
                           owner.token);
    REQUIRE(listed.status == 200);
    CHECK(listed.json()["users"].get<std::set<std::string>>() == expected);
}

TEST_CASE("group read receipts count members at or past a seq", "[integration][operations]") {
    group_fixture g;
    const auto s1 = g.send_text(g.owner, "one");
    const auto s2 = g.send_text(g.alice, "two");  // moves alice's read position to s2
    const auto readers_of = [&](std::uint64_t seq) {
        return g.http->get("/api/v1/conversations/" + g.cid + "/messages/" + std::to_string(seq) + "/readers",
                           g.bob.token);
    };
    // The sender's position moves right after the ack, off the ack's path.
    CHECK(wait_until([&] { return readers_of(s1).json().value("read_count", 0) == 2; }, 3000ms));
    auto r = readers_of(s1);
    REQUIRE(r.status == 200);
    CHECK(r.json()["member_count"] == 3);
    CHECK(r.json()["read_count"] == 2);  // owner (sent s1) and alice (sent s2)
    CHECK(r.json()["read_by"].get<std::set<std::string>>() == std::set<std::string>{g.owner.user_id, g.alice.user_id});
    auto r2 = g.http->get("/api/v1/conversations/" + g.cid + "/messages/" + std::to_string(s2) + "/readers",
                          g.bob.token);
    CHECK(r2.json()["read_count"] == 1);
    CHECK(g.http->get("/api/v1/conversations/" + g.cid + "/messages/999/readers", g.bob.token).status == 404);
    CHECK(g.http->get("/api/v1/conversations/" + g.cid + "/messages/abc/readers", g.bob.token).status == 400);
    auto outsider = register_user(*g.http, unique_name("out"));
    CHECK(g.http->get("/api/v1/conversations/" + g.cid + "/messages/1/readers", outsider.token).status == 403);
}
