// Conversations over HTTP (issue 4): the list with last_seq, read_seq, unread and
// last_message, the dm id, marking read with clamping and ignored reads, and receipts.
// Messages are sent through the messaging routes (issue 5).

#include <catch2/catch.hpp>
#include <chrono>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

namespace {

int counter = 0;

void say(http_client& http, const account& from, const std::string& cid, const std::string& text) {
    auto r = http.post(api("/conversations/" + cid + "/messages"),
                       {{"client_msg_id", "m" + std::to_string(++counter)},
                        {"body", {{"type", "text"}, {"text", text}}}},
                       from.token);
    REQUIRE(r.status == 201);
}

nlohmann::json entry(http_client& http, const account& who, const std::string& cid) {
    const auto list = http.get(api("/conversations"), who.token).json();
    for (const auto& c : list["conversations"]) {
        if (c["conversation_id"] == cid) {
            return c;
        }
    }
    return nullptr;
}

std::vector<std::string> order(http_client& http, const account& who) {
    std::vector<std::string> out;
    const auto list = http.get(api("/conversations"), who.token).json();
    for (const auto& c : list["conversations"]) {
        out.push_back(c["conversation_id"]);
    }
    return out;
}

}  // namespace

TEST_CASE("the list holds world, groups and direct chats with messages, newest first",
          "[integration][conversations]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");

    auto list = http.get(api("/conversations"), alice.token);
    REQUIRE(list.status == 200);
    const auto world = list.json()["conversations"];
    REQUIRE(world.size() == 1);
    CHECK(world[0] == nlohmann::json{{"conversation_id", "world"}, {"kind", "world"},
                                     {"title", "World"}, {"last_seq", 0}, {"read_seq", 0},
                                     {"unread", 0}, {"mentions_unread", 0},
                                     {"muted_until", 0}, {"last_message", nullptr}});

    const std::string gid = create_group(http, alice, {bob});
    const std::string group = "group:" + gid;
    auto dm_reply = http.post(api("/conversations/dm"), {{"user_id", bob.user_id}}, alice.token);
    REQUIRE(dm_reply.status == 200);
    const std::string dm = dm_reply.json()["conversation_id"];
    CHECK(dm == dm_id(alice, bob));
    CHECK(http.post(api("/conversations/dm"), {{"user_id", alice.user_id}}, bob.token)
              .json()["conversation_id"] == dm);
    // A group without messages is ordered by joining; a direct chat appears with its first
    // message.
    CHECK(order(http, alice) == std::vector<std::string>{group, "world"});
    const auto g = entry(http, alice, group);
    CHECK(g["kind"] == "group");
    CHECK(g["title"] == "test group");
    CHECK(g["group_id"] == gid);

    say(http, alice, "world", "hello world");
    CHECK(order(http, alice) == std::vector<std::string>{"world", group});
    // (Friends since create_group: group members come only from friends.)
    say(http, bob, dm, "hi alice");
    // Messaging records the direct chat just after the ack.
    CHECK(wait_until(
        [&] { return order(http, alice) == std::vector<std::string>{dm, "world", group}; },
        3000ms));
    const auto d = entry(http, alice, dm);
    CHECK(d["kind"] == "direct");
    CHECK(d["title"] == "bob");
    CHECK(d["peer_id"] == bob.user_id);
    CHECK(d["last_seq"] == 1);
    CHECK(d["last_message"]["body"]["text"] == "hi alice");
    CHECK(d["last_message"]["sender_id"] == bob.user_id);
    say(http, bob, group, "in the group");
    CHECK(order(http, alice) == std::vector<std::string>{group, dm, "world"});
    // The sender's own position moves with its message (just after the ack).
    CHECK(wait_until([&] { return entry(http, bob, group)["unread"] == 0; }, 3000ms));
    CHECK(entry(http, alice, group)["unread"] == 1);
}

TEST_CASE("the dm id needs another registered user", "[integration][conversations]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto g = guest(http);
    check_error(http.post(api("/conversations/dm"), {{"user_id", alice.user_id}}, alice.token), 400,
                "invalid_argument");
    check_error(http.post(api("/conversations/dm"), {{"user_id", "424242"}}, alice.token), 404,
                "not_found");
    check_error(http.post(api("/conversations/dm"), {{"user_id", g.user_id}}, alice.token), 403,
                "forbidden");
    check_error(http.post(api("/conversations/dm"), nlohmann::json::object(), alice.token), 400,
                "invalid_argument");
    check_error(http.post(api("/conversations/dm"), {{"user_id", 42}}, alice.token), 400,
                "invalid_argument");
    check_error(http.post(api("/conversations/dm"), {{"user_id", alice.user_id}}), 401,
                "unauthenticated");
}

TEST_CASE("unread counts, clamped reads, ignored reads and receipts",
          "[integration][conversations]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    const auto carol = register_user(http, "carol");
    const std::string group = "group:" + create_group(http, alice, {bob});
    ws_client alice_ws(server.host(), server.port(), alice.token);
    ws_client bob_other_device(server.host(), server.port(), bob.token);
    for (int i = 1; i <= 5; ++i) {
        say(http, alice, group, "message " + std::to_string(i));
    }
    auto e = entry(http, bob, group);
    CHECK(e["last_seq"] == 5);
    CHECK(e["read_seq"] == 0);
    CHECK(e["unread"] == 5);
    CHECK(e["last_message"]["seq"] == 5);
    CHECK(e["last_message"]["body"]["text"] == "message 5");

    const auto read = [&](const account& who, const std::string& cid, nlohmann::json seq) {
        return http.post(api("/conversations/" + cid + "/read"), {{"seq", seq}}, who.token);
    };
    REQUIRE(read(bob, group, 3).status == 204);
    e = entry(http, bob, group);
    CHECK(e["read_seq"] == 3);
    CHECK(e["unread"] == 2);
    const nlohmann::json receipt = {{"type", "receipt"}, {"conversation_id", group},
                                    {"user_id", bob.user_id}, {"seq", 3}};
    CHECK(alice_ws.expect("receipt") == receipt);
    CHECK(bob_other_device.expect("receipt") == receipt);

    // A position never moves back: an older seq is ignored.
    REQUIRE(read(bob, group, 2).status == 204);
    CHECK(entry(http, bob, group)["read_seq"] == 3);
    // Past the end: clamped to last_seq.
    REQUIRE(read(bob, group, 1000).status == 204);
    e = entry(http, bob, group);
    CHECK(e["read_seq"] == 5);
    CHECK(e["unread"] == 0);
    CHECK(alice_ws.expect("receipt")["seq"] == 5);
    CHECK(alice_ws.pending("receipt") == 0);  // nothing was pushed for the ignored read

    check_error(read(carol, group, 1), 403, "forbidden");
    check_error(read(bob, "group:424242", 1), 404, "not_found");
    check_error(read(bob, "nowhere", 1), 400, "invalid_argument");
    check_error(read(bob, group, -1), 400, "invalid_argument");
    check_error(read(bob, group, "3"), 400, "invalid_argument");
    check_error(read(bob, group, 1.5), 400, "invalid_argument");
    check_error(http.post(api("/conversations/" + group + "/read"), nlohmann::json::object(),
                          bob.token),
                400, "invalid_argument");
    // Reading a direct chat needs no friendship, only being one of the two.
    CHECK(read(bob, dm_id(bob, carol), 1).status == 204);
    check_error(read(bob, dm_id(alice, carol), 1), 403, "forbidden");
    CHECK(read(bob, "world", 0).status == 204);
}

TEST_CASE("a mention of an offline member shows in their list until they read it",
          "[integration][conversations]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    const auto carol = register_user(http, "carol");
    const auto dave = register_user(http, "dave");  // not a member of the group
    const std::string group = "group:" + create_group(http, alice, {bob, carol});
    int n = 0;
    const auto send = [&](const nlohmann::json& body) {
        auto r = http.post(api("/conversations/" + group + "/messages"),
                           {{"client_msg_id", "mention-" + std::to_string(++n)}, {"body", body}},
                           alice.token);
        REQUIRE(r.status == 201);
        return r.json()["message"]["seq"].get<std::uint64_t>();
    };

    // Nobody but alice is connected. bob is mentioned twice, carol once, dave (no member) and
    // alice herself are mentioned and ignored.
    send({{"type", "text"}, {"text", "hi bob"}, {"mentions", {bob.user_id, dave.user_id}}});
    send({{"type", "text"}, {"text", "no mention"}});
    const auto third = send({{"type", "text"},
                             {"text", "bob, carol, me"},
                             {"mentions", {bob.user_id, carol.user_id, alice.user_id}}});
    // Mentions are recorded just after the ack.
    CHECK(wait_until([&] { return entry(http, bob, group)["mentions_unread"] == 2; }, 3000ms));
    CHECK(wait_until([&] { return entry(http, carol, group)["mentions_unread"] == 1; }, 3000ms));
    const auto b = entry(http, bob, group);
    CHECK(b["unread"] == 3);
    CHECK(entry(http, alice, group)["mentions_unread"] == 0);
    CHECK(entry(http, dave, group) == nullptr);

    // Recalling the third message takes its mentions back.
    send({{"type", "recall"}, {"target_seq", third}});
    CHECK(wait_until([&] { return entry(http, carol, group)["mentions_unread"] == 0; }, 3000ms));
    CHECK(wait_until([&] { return entry(http, bob, group)["mentions_unread"] == 1; }, 3000ms));

    // Reading past the first message reads its mention.
    REQUIRE(http.post(api("/conversations/" + group + "/read"), {{"seq", 1}}, bob.token).status ==
            204);
    CHECK(entry(http, bob, group)["mentions_unread"] == 0);
    // A mention at or before the read position does not come back.
    send({{"type", "text"}, {"text", "again bob"}, {"mentions", {bob.user_id}}});
    CHECK(wait_until([&] { return entry(http, bob, group)["mentions_unread"] == 1; }, 3000ms));
}

TEST_CASE("in a direct chat only the peer can be mentioned", "[integration][conversations]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    const auto carol = register_user(http, "carol");
    befriend(http, alice, bob);
    const std::string dm = dm_id(alice, bob);
    auto r = http.post(api("/conversations/" + dm + "/messages"),
                       {{"client_msg_id", "dm-mention"},
                        {"body", {{"type", "text"}, {"text", "hey"},
                                  {"mentions", {bob.user_id, carol.user_id}}}}},
                       alice.token);
    REQUIRE(r.status == 201);
    CHECK(wait_until([&] { return entry(http, bob, dm)["mentions_unread"] == 1; }, 3000ms));
    // Named: a range-for over a member of a temporary would read freed memory.
    const auto carols = http.get(api("/conversations"), carol.token).json();
    for (const auto& c : carols["conversations"]) {
        CHECK(c["mentions_unread"] == 0);
    }
}
