// Bot accounts (issue 21; docs/integrations.md) against the real binary: an admin creates,
// rotates and revokes them; a bot uses the same REST and WebSocket API as everyone else, cannot
// log in with a password, is marked "bot": true, is added to groups without friendship, and has
// a send rate limit of its own. One server for the whole story (the suite's time budget).

#include <catch2/catch.hpp>
#include <string>

#include "rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using nlohmann::json;

namespace {

// A bot's or a user's send over REST.
http_reply send_text(http_client& http, const std::string& token, const std::string& cid,
                     const std::string& client_msg_id, const std::string& text) {
    return http.post(api("/conversations/" + cid + "/messages"),
                     {{"client_msg_id", client_msg_id}, {"body", {{"type", "text"}, {"text", text}}}},
                     token);
}

}  // namespace

TEST_CASE("bots: created by admins, used like users over REST and WebSocket, rotated, revoked",
          "[integration][bots]") {
    const auto ops_name = unique_name("ops");
    // A small send bucket, so that the bot's own limit shows within a few sends.
    auto cfg = rest_test_config({{"auth", {{"admins", json::array({ops_name})}}},
                                 {"limits", {{"send_rate", 0.5}, {"send_burst", 4}}}});
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto ops = register_user(http, ops_name);
    auto alice = register_user(http, unique_name("alice"));
    const auto bot_name = unique_name("echo");

    // Only admins create bots.
    check_error(http.post(api("/admin/bots"), {{"username", bot_name}}), 401, "unauthenticated");
    check_error(http.post(api("/admin/bots"), {{"username", bot_name}}, alice.token), 403,
                "forbidden");
    check_error(http.post(api("/admin/bots"), {{"username", "No Such Name"}}, ops.token), 400,
                "invalid_argument");
    check_error(http.post(api("/admin/bots"), json::object(), ops.token), 400, "invalid_argument");

    auto made = http.post(api("/admin/bots"), {{"username", bot_name}, {"display_name", "Echo"}},
                          ops.token);
    REQUIRE(made.status == 201);
    const auto made_j = made.json();
    CHECK(made_j["user"]["bot"] == true);
    CHECK(made_j["user"]["guest"] == false);
    CHECK(made_j["user"]["display_name"] == "Echo");
    CHECK(made_j["user"]["username"] == bot_name);
    const std::string bot_id = made_j["user"]["user_id"];
    std::string bot_token = made_j["token"];
    CHECK(bot_token.size() == 64);

    // A taken name is 409, whether a bot or a person holds it.
    check_error(http.post(api("/admin/bots"), {{"username", bot_name}}, ops.token), 409, "conflict");
    check_error(http.post(api("/admin/bots"), {{"username", alice.username}}, ops.token), 409,
                "conflict");
    // ...and nobody registers a bot's name.
    check_error(http.post(api("/auth/register"),
                          {{"username", bot_name}, {"password", "correct horse battery"}}),
                409, "conflict");

    // User objects carry "bot": true for the bot and false for people.
    auto me = http.get(api("/me"), bot_token);
    REQUIRE(me.status == 200);
    CHECK(me.json()["user"]["bot"] == true);
    CHECK(me.json()["admin"] == false);
    auto seen = http.get(api("/users/" + bot_id), alice.token);
    REQUIRE(seen.status == 200);
    CHECK(seen.json()["user"]["bot"] == true);
    CHECK(http.get(api("/me"), alice.token).json()["user"]["bot"] == false);

    // No password gets a bot in: the same answer as a wrong password.
    check_error(http.post(api("/auth/login"), {{"username", bot_name}, {"password", ""}}), 401,
                "unauthenticated");
    check_error(http.post(api("/auth/login"),
                          {{"username", bot_name}, {"password", "correct horse battery"}}),
                401, "unauthenticated");
    check_error(http.post(api("/admin/users/" + bot_id + "/password-reset"), ops.token), 400,
                "invalid_argument");

    // A group's owner adds the bot without being its friend.
    const auto gid = create_group(http, alice, {});
    const std::string cid = "group:" + gid;
    auto added = http.post(api("/groups/" + gid + "/members"), {{"user_ids", {bot_id}}},
                           alice.token);
    INFO(added.body);
    REQUIRE(added.status == 200);
    CHECK(added.json()["group"]["member_count"] == 2);

    // The bot hears a message over its WebSocket and answers on it.
    {
        ws_client bot_ws(server.host(), server.port(), bot_token);
        ws_client alice_ws(server.host(), server.port(), alice.token);
        CHECK(bot_ws.hello()["user_id"] == bot_id);
        REQUIRE(send_text(http, alice.token, cid, "a1", "ping").status == 201);
        // (Alice's own connection is pushed her REST send, as any other device of hers.)
        CHECK(alice_ws.expect("message")["message"]["body"]["text"] == "ping");
        auto heard = bot_ws.expect("message");
        CHECK(heard["message"]["conversation_id"] == cid);
        CHECK(heard["message"]["body"]["text"] == "ping");
        bot_ws.send({{"type", "send"},
                     {"id", "r1"},
                     {"conversation_id", cid},
                     {"client_msg_id", "b1"},
                     {"body", {{"type", "text"}, {"text", "pong"}}}});
        auto ack = bot_ws.expect("ack");
        CHECK(ack["id"] == "r1");
        auto answer = alice_ws.expect("message");
        CHECK(answer["message"]["sender_id"] == bot_id);
        CHECK(answer["message"]["body"]["text"] == "pong");

        // Over REST too.
        REQUIRE(send_text(http, bot_token, cid, "b2", "pong again").status == 201);
        CHECK(alice_ws.expect("message")["message"]["body"]["text"] == "pong again");

        // Rate limits are per bot: the bot's bucket (4) runs out, alice's does not.
        int limited = 0;
        for (int i = 0; i < 4; ++i) {
            auto r = send_text(http, bot_token, cid, "burst" + std::to_string(i), "x");
            if (r.status == 429) {
                ++limited;
                CHECK_FALSE(r.header("retry-after").empty());
            } else {
                CHECK(r.status == 201);
            }
        }
        CHECK(limited >= 1);
        CHECK(send_text(http, alice.token, cid, "a2", "still fine").status == 201);

        // Rotation: a new token works at once, the old one is refused and its socket closed.
        check_error(http.post(api("/admin/bots/" + alice.user_id + "/token"), ops.token), 404,
                    "not_found");
        check_error(http.post(api("/admin/bots/" + bot_id + "/token"), alice.token), 403,
                    "forbidden");
        auto rotated = http.post(api("/admin/bots/" + bot_id + "/token"), ops.token);
        REQUIRE(rotated.status == 200);
        const std::string new_token = rotated.json()["token"];
        CHECK(new_token != bot_token);
        CHECK(rotated.json()["user"]["user_id"] == bot_id);
        REQUIRE(bot_ws.wait_closed());
        CHECK(bot_ws.close_code() == 4001);
        check_error(http.get(api("/me"), bot_token), 401, "unauthenticated");
        CHECK(http.get(api("/me"), new_token).status == 200);
        bot_token = new_token;
    }

    // Revocation: no token of the bot works until the next rotation.
    check_error(http.del(api("/admin/bots/" + alice.user_id + "/token"), ops.token), 404,
                "not_found");
    auto revoked = http.del(api("/admin/bots/" + bot_id + "/token"), ops.token);
    CHECK(revoked.status == 204);
    check_error(http.get(api("/me"), bot_token), 401, "unauthenticated");
    auto again = http.post(api("/admin/bots/" + bot_id + "/token"), ops.token);
    REQUIRE(again.status == 200);
    CHECK(http.get(api("/me"), again.json()["token"].get<std::string>()).status == 200);

    // The admin list shows it as a bot.
    auto users = http.get(api("/admin/users?limit=1000"), ops.token);
    REQUIRE(users.status == 200);
    bool listed = false;
    const auto listing = users.json();
    for (const auto& u : listing["users"]) {
        if (u["user_id"] == bot_id) {
            listed = true;
            CHECK(u["bot"] == true);
        }
    }
    CHECK(listed);
}
