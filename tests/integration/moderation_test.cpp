// Contract v1.1 "Blocking" and "Groups" (issue 18) against the real binary: a block ends the
// friendship and pending requests, and the blocked user can no longer befriend, message, add or
// watch the presence of the blocker; owners and admins change a group's name, description and
// visibility. One server per case, many steps.

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

http_reply send_text(http_client& http, const std::string& cid, const std::string& cmid,
                     const std::string& token) {
    return http.post(api("/conversations/" + cid + "/messages"),
                     {{"client_msg_id", cmid}, {"body", {{"type", "text"}, {"text", "hi"}}}},
                     token);
}

bool lists_user(const json& users, const std::string& user_id) {
    for (const auto& u : users) {
        if (u["user_id"] == user_id) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("a block ends the friendship and refuses requests, direct sends and adds",
          "[integration][moderation][blocks]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const account alice = register_user(http, unique_name("alice"));
    const account bob = register_user(http, unique_name("bob"));
    const account carol = register_user(http, unique_name("carol"));
    befriend(http, alice, bob);
    const std::string dm = dm_id(alice, bob);
    REQUIRE(send_text(http, dm, "before", bob.token).status == 201);
    const std::string bobs_group = create_group(http, bob, {});
    // A pending request from carol to alice.
    REQUIRE(http.post(api("/friends/requests"), {{"user_id", alice.user_id}}, carol.token).status ==
            201);

    check_error(http.post(api("/blocks"), {{"user_id", alice.user_id}}, alice.token), 400,
                "invalid_argument");
    check_error(http.post(api("/blocks"), {{"user_id", "12345"}}, alice.token), 404, "not_found");
    check_error(http.post(api("/blocks"), {{"user_id", 5}}, alice.token), 400, "invalid_argument");
    check_error(http.post(api("/blocks"), {{"user_id", bob.user_id}}), 401, "unauthenticated");
    const account g = guest(http, "visitor");
    check_error(http.post(api("/blocks"), {{"user_id", bob.user_id}}, g.token), 403, "forbidden");

    ws_client bob_ws(server.host(), server.port(), bob.token);
    REQUIRE(http.post(api("/blocks"), {{"user_id", bob.user_id}}, alice.token).status == 204);
    REQUIRE(http.post(api("/blocks"), {{"user_id", bob.user_id}}, alice.token).status == 204);
    REQUIRE(http.post(api("/blocks"), {{"user_id", carol.user_id}}, alice.token).status == 204);
    auto blocked = http.get(api("/blocks"), alice.token);
    REQUIRE(blocked.status == 200);
    REQUIRE(blocked.json()["users"].size() == 2);
    CHECK(blocked.json()["users"][0]["user_id"] == carol.user_id);  // most recent first
    CHECK(blocked.json()["users"][1]["user_id"] == bob.user_id);
    CHECK(http.get(api("/blocks"), bob.token).json()["users"].empty());

    // The friendship and the pending request are gone, on both sides.
    CHECK_FALSE(lists_user(http.get(api("/friends"), alice.token).json()["friends"], bob.user_id));
    CHECK_FALSE(lists_user(http.get(api("/friends"), bob.token).json()["friends"], alice.user_id));
    CHECK(http.get(api("/friends/requests"), alice.token).json()["incoming"].empty());
    CHECK(http.get(api("/friends/requests"), carol.token).json()["outgoing"].empty());

    // What the blocked user can no longer do.
    check_error(http.post(api("/friends/requests"), {{"user_id", alice.user_id}}, bob.token), 403,
                "forbidden");
    check_error(send_text(http, dm, "after", bob.token), 403, "forbidden");
    check_error(http.post(api("/groups"), {{"name", "trap"}, {"member_ids", {alice.user_id}}},
                          bob.token),
                403, "forbidden");
    check_error(http.post(api("/groups/" + bobs_group + "/members"),
                          {{"user_ids", {alice.user_id}}}, bob.token),
                403, "forbidden");
    CHECK(http.get(api("/groups/" + bobs_group), bob.token).json()["group"]["member_count"] == 1);
    // Nor the blocker's presence: presence goes to friends only.
    {
        ws_client alice_ws(server.host(), server.port(), alice.token);
        CHECK_FALSE(bob_ws.recv(300ms).has_value());
    }
    // The blocker cannot befriend the blocked either, until unblocking.
    check_error(http.post(api("/friends/requests"), {{"user_id", bob.user_id}}, alice.token), 403,
                "forbidden");
    // History stays readable to both.
    CHECK(http.get(api("/conversations/" + dm + "/messages?after_seq=0"), bob.token).status == 200);

    // ---- unblocking ----
    check_error(http.del(api("/blocks/" + alice.user_id), bob.token), 404, "not_found");
    check_error(http.del(api("/blocks/abc"), alice.token), 400, "invalid_argument");
    REQUIRE(http.del(api("/blocks/" + bob.user_id), alice.token).status == 204);
    check_error(http.del(api("/blocks/" + bob.user_id), alice.token), 404, "not_found");
    CHECK(http.get(api("/blocks"), alice.token).json()["users"].size() == 1);
    // Not friends again by itself; a new request works.
    check_error(send_text(http, dm, "after-unblock", bob.token), 403, "forbidden");
    CHECK(http.post(api("/friends/requests"), {{"user_id", alice.user_id}}, bob.token).status ==
          201);
}

TEST_CASE("the owner or an admin renames and describes a group and members hear of it",
          "[integration][moderation][groups]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const account owner = register_user(http, unique_name("owner"));
    const account helper = register_user(http, unique_name("helper"));
    const account member = register_user(http, unique_name("member"));
    const account outsider = register_user(http, unique_name("outsider"));
    befriend(http, owner, helper);
    befriend(http, owner, member);
    const std::string gid = create_group(http, owner, {helper, member});
    const std::string path = api("/groups/" + gid);
    REQUIRE(http.patch(api("/groups/" + gid + "/members/" + helper.user_id), {{"role", "admin"}},
                       owner.token)
                .status == 200);
    CHECK(http.get(path, member.token).json()["group"]["description"] == "");

    ws_client member_ws(server.host(), server.port(), member.token);
    auto changed = http.patch(path, {{"name", "Book club"}, {"description", "Monthly.\nBring tea."}},
                              owner.token);
    REQUIRE(changed.status == 200);
    CHECK(changed.json()["group"]["name"] == "Book club");
    CHECK(changed.json()["group"]["description"] == "Monthly.\nBring tea.");
    CHECK(changed.json()["group"]["public"] == false);
    auto event = member_ws.expect("event", 5s);
    CHECK(event["event"] == "group_updated");
    CHECK(event["group"]["name"] == "Book club");
    CHECK(event["group"]["description"] == "Monthly.\nBring tea.");

    // An admin may too; only what is given changes.
    auto opened = http.patch(path, {{"public", true}}, helper.token);
    REQUIRE(opened.status == 200);
    CHECK(opened.json()["group"]["public"] == true);
    CHECK(opened.json()["group"]["name"] == "Book club");
    CHECK(member_ws.expect("event", 5s)["group"]["public"] == true);
    CHECK(http.get(path, outsider.token).json()["group"]["description"] == "Monthly.\nBring tea.");

    check_error(http.patch(path, {{"name", "mine now"}}, member.token), 403, "forbidden");
    check_error(http.patch(path, {{"name", "mine now"}}, outsider.token), 403, "forbidden");
    check_error(http.patch(api("/groups/12345"), {{"name", "x"}}, owner.token), 404, "not_found");
    check_error(http.patch(path, {{"name", ""}}, owner.token), 400, "invalid_argument");
    check_error(http.patch(path, {{"description", std::string(1025, 'a')}}, owner.token), 400,
                "invalid_argument");
    check_error(http.patch(path, {{"public", "yes"}}, owner.token), 400, "invalid_argument");
    check_error(http.patch(path, {{"name", "x"}}), 401, "unauthenticated");
    const account g = guest(http, "visitor");
    check_error(http.patch(path, {{"name", "x"}}, g.token), 403, "forbidden");
    CHECK(http.patch(path, {{"description", std::string(1024, 'a')}}, owner.token).status == 200);
    // Nothing refused above changed the group.
    auto now = http.get(path, owner.token).json()["group"];
    CHECK(now["name"] == "Book club");
    CHECK(now["public"] == true);
}

namespace {

http_reply send_world(http_client& http, const std::string& cmid, const std::string& token,
                      const std::string& text = "hello world") {
    return http.post(api("/conversations/world/messages"),
                     {{"client_msg_id", cmid}, {"body", {{"type", "text"}, {"text", text}}}},
                     token);
}

json live_settings(http_client& http, const account& admin, const json& patch) {
    auto r = http.patch(api("/admin/settings"), patch, admin.token);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json();
}

}  // namespace

TEST_CASE("admins mute users in world, slow mode paces world, and blocks close direct chats",
          "[integration][moderation][world]") {
    const std::string root_name = unique_name("root");
    json cfg = fast_test_config();  // the durable engine: this test restarts the server
    cfg["auth"]["admins"] = json::array({root_name});
    server_process server(cfg);
    server.start();
    auto http = std::make_unique<http_client>(server.host(), server.port());
    const account root = register_user(*http, root_name);
    const account alice = register_user(*http, unique_name("alice"));
    const account bob = register_user(*http, unique_name("bob"));
    const account carol = register_user(*http, unique_name("carol"));
    const std::string mutes = api("/admin/world/mutes");

    // ---- refusals ----
    check_error(http->post(mutes, {{"user_id", alice.user_id}, {"duration_s", 0}}), 401,
                "unauthenticated");
    check_error(http->post(mutes, {{"user_id", bob.user_id}, {"duration_s", 0}}, alice.token), 403,
                "forbidden");
    check_error(http->del(mutes + "/" + bob.user_id, alice.token), 403, "forbidden");
    check_error(http->post(mutes, {{"user_id", alice.user_id}}, root.token), 400,
                "invalid_argument");
    check_error(http->post(mutes, {{"user_id", alice.user_id}, {"duration_s", -1}}, root.token),
                400, "invalid_argument");
    check_error(http->post(mutes, {{"user_id", "12345"}, {"duration_s", 0}}, root.token), 404,
                "not_found");
    check_error(http->del(mutes + "/" + alice.user_id, root.token), 404, "not_found");

    // ---- a mute until lifted ----
    REQUIRE(send_world(*http, "a-1", alice.token).status == 201);
    REQUIRE(http->post(mutes, {{"user_id", alice.user_id}, {"duration_s", 0}}, root.token).status ==
            204);
    check_error(send_world(*http, "a-2", alice.token), 403, "forbidden");
    {
        ws_client alice_ws(server.host(), server.port(), alice.token);
        alice_ws.send({{"type", "send"},
                       {"id", "w1"},
                       {"conversation_id", "world"},
                       {"client_msg_id", "a-ws"},
                       {"body", {{"type", "text"}, {"text", "muted?"}}}});
        auto err = alice_ws.expect("error", 5s);
        CHECK(err["id"] == "w1");
        CHECK(err["code"] == "forbidden");
    }
    // A muted user still reads world; others still send.
    CHECK(http->get(api("/conversations/world/messages?after_seq=0"), alice.token).status == 200);
    CHECK(send_world(*http, "b-1", bob.token).status == 201);
    auto listed = http->get(mutes, root.token);
    REQUIRE(listed.status == 200);
    REQUIRE(listed.json()["mutes"].size() == 1);
    CHECK(listed.json()["mutes"][0]["user_id"] == alice.user_id);
    CHECK(listed.json()["mutes"][0]["until"].is_null());

    // ---- a timed mute, which ends by itself ----
    REQUIRE(http->post(mutes, {{"user_id", bob.user_id}, {"duration_s", 1}}, root.token).status ==
            204);
    check_error(send_world(*http, "b-2", bob.token), 403, "forbidden");
    const auto bob_until = http->get(mutes, root.token).json()["mutes"][1]["until"];
    REQUIRE(bob_until.is_number());

    // ---- blocks close a direct chat even without dm_requires_friendship ----
    live_settings(*http, root, {{"policy", {{"dm_requires_friendship", false}}}});
    const std::string carol_alice = dm_id(carol, alice);
    REQUIRE(send_text(*http, carol_alice, "c-1", carol.token).status == 201);
    REQUIRE(http->post(api("/blocks"), {{"user_id", carol.user_id}}, alice.token).status == 204);
    check_error(send_text(*http, carol_alice, "c-2", carol.token), 403, "forbidden");
    // The blocker is not the one shut out.
    CHECK(send_text(*http, carol_alice, "a-dm", alice.token).status == 201);

    // ---- mutes and blocks outlive a restart ----
    server.stop();
    server.start();
    http = std::make_unique<http_client>(server.host(), server.port());
    check_error(send_world(*http, "a-3", alice.token), 403, "forbidden");
    check_error(send_text(*http, carol_alice, "c-3", carol.token), 403, "forbidden");
    // (The restart reverted the live settings to the file's; set them again.)
    live_settings(*http, root, {{"policy", {{"dm_requires_friendship", false}}}});
    check_error(send_text(*http, carol_alice, "c-4", carol.token), 403, "forbidden");
    REQUIRE(http->del(api("/blocks/" + carol.user_id), alice.token).status == 204);
    CHECK(send_text(*http, carol_alice, "c-5", carol.token).status == 201);

    // Bob's mute ends a second after it began: wait for its end (a fast restart may take less).
    const auto bob_end = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(bob_until.get<std::int64_t>() + 50));
    std::this_thread::sleep_until(bob_end);
    CHECK(send_world(*http, "b-3", bob.token).status == 201);
    CHECK(http->get(mutes, root.token).json()["mutes"].size() == 1);
    REQUIRE(http->del(mutes + "/" + alice.user_id, root.token).status == 204);
    check_error(http->del(mutes + "/" + alice.user_id, root.token), 404, "not_found");
    CHECK(send_world(*http, "a-4", alice.token).status == 201);

    // ---- slow mode ----
    auto applied = live_settings(*http, root, {{"policy", {{"world_slow_mode_s", 30}}}});
    CHECK(applied["applied"] == json::array({"policy.world_slow_mode_s"}));
    auto first = send_world(*http, "slow-1", alice.token);
    REQUIRE(first.status == 201);
    auto second = send_world(*http, "slow-2", alice.token);
    check_error(second, 429, "rate_limited");
    const int retry = std::stoi(second.header("retry-after"));
    CHECK(retry >= 1);
    CHECK(retry <= 30);
    // A retry of the accepted send is answered as before, not refused.
    auto again = send_world(*http, "slow-1", alice.token);
    CHECK(again.status == 200);
    CHECK(again.json()["message"]["seq"] == first.json()["message"]["seq"]);
    // Edits and reactions are not new messages.
    const auto seq = first.json()["message"]["seq"].get<std::uint64_t>();
    CHECK(http->post(api("/conversations/world/messages"),
                     {{"client_msg_id", "slow-edit"},
                      {"body", {{"type", "edit"}, {"target_seq", seq}, {"text", "edited"}}}},
                     alice.token)
              .status == 201);
    {
        ws_client alice_ws(server.host(), server.port(), alice.token);
        alice_ws.send({{"type", "send"},
                       {"id", "w2"},
                       {"conversation_id", "world"},
                       {"client_msg_id", "slow-ws"},
                       {"body", {{"type", "text"}, {"text", "too soon"}}}});
        auto err = alice_ws.expect("error", 5s);
        CHECK(err["id"] == "w2");
        CHECK(err["code"] == "rate_limited");
        CHECK(err["retry_after_s"].get<int>() >= 1);
    }
    // Everyone has their own pace; admins are exempt; other conversations are not paced.
    CHECK(send_world(*http, "slow-b", bob.token).status == 201);
    CHECK(send_world(*http, "root-1", root.token).status == 201);
    CHECK(send_world(*http, "root-2", root.token).status == 201);
    CHECK(send_text(*http, carol_alice, "a-dm-2", alice.token).status == 201);
    CHECK(send_text(*http, carol_alice, "a-dm-3", alice.token).status == 201);
    // Turning it off lets the next send through at once.
    live_settings(*http, root, {{"policy", {{"world_slow_mode_s", 0}}}});
    CHECK(send_world(*http, "slow-3", alice.token).status == 201);
}
