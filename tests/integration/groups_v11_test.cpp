// Contract v1.1 "Adding members" and "Groups" (issue 18) against the real binary: `POST /groups`
// and `POST /groups/{id}/members` take only the caller's friends; unknown users stay 404, guests
// and strangers 403, and members already in the group are skipped whoever they are. Owners and
// admins mute and ban members, invite by link, and the owner deletes the group.

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using nlohmann::json;

TEST_CASE("groups take members only from the caller's friends", "[integration][groups][v11]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const account owner = register_user(http, unique_name("owner"));
    const account helper = register_user(http, unique_name("helper"));
    const account member = register_user(http, unique_name("member"));
    const account pal = register_user(http, unique_name("pal"));
    const account stranger = register_user(http, unique_name("stranger"));
    const account visitor = guest(http, "visitor");
    befriend(http, owner, helper);
    befriend(http, owner, member);
    befriend(http, owner, pal);

    // Creating: strangers refused, nothing made; unknown ids still 404, guests 403.
    check_error(http.post(api("/groups"),
                          {{"name", "g"}, {"member_ids", {member.user_id, stranger.user_id}}},
                          owner.token),
                403, "forbidden");
    CHECK(http.get(api("/conversations"), member.token).json()["conversations"].size() == 1);
    check_error(http.post(api("/groups"), {{"name", "g"}, {"member_ids", {"424242"}}}, owner.token),
                404, "not_found");
    check_error(http.post(api("/groups"), {{"name", "g"}, {"member_ids", {visitor.user_id}}},
                          owner.token),
                403, "forbidden");
    auto created = http.post(
        api("/groups"), {{"name", "Club"}, {"member_ids", {helper.user_id, member.user_id}}},
        owner.token);
    REQUIRE(created.status == 201);
    CHECK(created.json()["group"]["member_count"] == 3);
    const std::string g = api("/groups/" + created.json()["group"]["group_id"].get<std::string>());

    // Adding: the same rule, all or nothing.
    check_error(http.post(g + "/members", {{"user_ids", {pal.user_id, stranger.user_id}}},
                          owner.token),
                403, "forbidden");
    CHECK(http.get(g, owner.token).json()["group"]["member_count"] == 3);
    REQUIRE(http.patch(g + "/members/" + helper.user_id, {{"role", "admin"}}, owner.token).status ==
            200);
    // A group admin adds its own friends only: pal is the owner's friend, not the helper's.
    check_error(http.post(g + "/members", {{"user_ids", {pal.user_id}}}, helper.token), 403,
                "forbidden");
    // Members already in the group are skipped, friends of the caller or not.
    CHECK(http.post(g + "/members", {{"user_ids", {member.user_id, owner.user_id}}}, helper.token)
              .status == 200);
    befriend(http, helper, pal);
    auto added = http.post(g + "/members", {{"user_ids", {pal.user_id}}}, helper.token);
    REQUIRE(added.status == 200);
    CHECK(added.json()["group"]["member_count"] == 4);
    // A former friend is a stranger again.
    REQUIRE(http.del(api("/friends/" + helper.user_id), owner.token).status == 204);
    REQUIRE(http.del(g + "/members/" + helper.user_id, owner.token).status == 204);
    check_error(http.post(g + "/members", {{"user_ids", {helper.user_id}}}, owner.token), 403,
                "forbidden");
}

// ---- group moderation (contract v1.1, "Groups"): one durable server, many steps ----

namespace {

http_reply send_text(http_client& http, const std::string& cid, const std::string& cmid,
                     const std::string& token, const std::string& text = "hi") {
    return http.post(api("/conversations/" + cid + "/messages"),
                     {{"client_msg_id", cmid}, {"body", {{"type", "text"}, {"text", text}}}},
                     token);
}

// The next `event` frame named `name`, skipping other events.
json expect_event(ws_client& ws, const std::string& name) {
    for (;;) {
        auto frame = ws.expect("event", std::chrono::seconds(5));
        if (frame["event"] == name) {
            return frame;
        }
    }
}

}  // namespace

TEST_CASE("owners and admins mute, ban, invite by link and delete groups",
          "[integration][groups][v11][moderation]") {
    server_process server(fast_test_config());  // durable: mutes and bans outlive a restart
    server.start();
    auto http = std::make_unique<http_client>(server.host(), server.port());
    const account owner = register_user(*http, unique_name("owner"));
    const account helper = register_user(*http, unique_name("helper"));
    const account member = register_user(*http, unique_name("member"));
    const account pal = register_user(*http, unique_name("pal"));
    const account outsider = register_user(*http, unique_name("outsider"));
    const account visitor = guest(*http, "visitor");
    const std::string gid = create_group(*http, owner, {helper, member, pal});
    const std::string g = api("/groups/" + gid);
    const std::string cid = "group:" + gid;
    REQUIRE(http->patch(g + "/members/" + helper.user_id, {{"role", "admin"}}, owner.token).status ==
            200);

    // ---- member mutes ----
    {
        const std::string mute = g + "/members/" + member.user_id + "/mute";
        const json forever = {{"duration_s", 0}};
        check_error(http->post(mute, forever), 401, "unauthenticated");
        check_error(http->post(mute, forever, visitor.token), 403, "forbidden");
        check_error(http->post(mute, forever, outsider.token), 403, "forbidden");
        check_error(http->post(mute, forever, pal.token), 403, "forbidden");
        check_error(http->post(g + "/members/" + owner.user_id + "/mute", forever, helper.token),
                    403, "forbidden");
        check_error(http->post(g + "/members/" + helper.user_id + "/mute", forever, helper.token),
                    400, "invalid_argument");
        check_error(http->post(mute, json::object(), helper.token), 400, "invalid_argument");
        check_error(http->post(mute, {{"duration_s", -1}}, helper.token), 400, "invalid_argument");
        check_error(http->post(mute, {{"duration_s", "5"}}, helper.token), 400,
                    "invalid_argument");
        check_error(http->post(api("/groups/424242/members/" + member.user_id + "/mute"), forever,
                               helper.token),
                    404, "not_found");
        check_error(http->post(g + "/members/" + outsider.user_id + "/mute", forever, helper.token),
                    404, "not_found");
        check_error(http->post(g + "/members/x/mute", forever, helper.token), 400,
                    "invalid_argument");
        check_error(http->del(mute, helper.token), 404, "not_found");

        ws_client member_ws(server.host(), server.port(), member.token);
        REQUIRE(http->post(mute, forever, helper.token).status == 204);
        auto muted = expect_event(member_ws, "member_muted");
        CHECK(muted["group_id"] == gid);
        CHECK(muted["conversation_id"] == cid);
        CHECK(muted["user_id"] == member.user_id);
        CHECK(muted["until"].is_null());
        check_error(send_text(*http, cid, "m-1", member.token), 403, "forbidden");
        member_ws.send({{"type", "send"},
                        {"id", "s1"},
                        {"conversation_id", cid},
                        {"client_msg_id", "m-ws"},
                        {"body", {{"type", "text"}, {"text", "muted?"}}}});
        auto err = member_ws.expect("error", std::chrono::seconds(5));
        CHECK(err["id"] == "s1");
        CHECK(err["code"] == "forbidden");
        // The muted member still reads; the others still send.
        CHECK(http->get(api("/conversations/" + cid + "/messages?after_seq=0"), member.token)
                  .status == 200);
        REQUIRE(send_text(*http, cid, "p-1", pal.token).status == 201);

        auto listed = http->get(g + "/mutes", owner.token);
        REQUIRE(listed.status == 200);
        REQUIRE(listed.json()["mutes"].size() == 1);
        CHECK(listed.json()["mutes"][0]["user_id"] == member.user_id);
        CHECK(listed.json()["mutes"][0]["until"].is_null());
        check_error(http->get(g + "/mutes", pal.token), 403, "forbidden");

        // A timed mute, which ends by itself; it also outlives leaving and rejoining.
        REQUIRE(http->post(g + "/members/" + pal.user_id + "/mute", {{"duration_s", 1}},
                           owner.token)
                    .status == 204);
        check_error(send_text(*http, cid, "p-2", pal.token), 403, "forbidden");
        REQUIRE(http->del(g + "/members/" + pal.user_id, pal.token).status == 204);
        REQUIRE(http->post(g + "/members", {{"user_ids", {pal.user_id}}}, owner.token).status ==
                200);
        check_error(send_text(*http, cid, "p-3", pal.token), 403, "forbidden");
        const auto pal_until = http->get(g + "/mutes", owner.token).json()["mutes"][1]["until"];
        REQUIRE(pal_until.is_number());

        // Mutes outlive a restart.
        server.stop();
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
        check_error(send_text(*http, cid, "m-2", member.token), 403, "forbidden");

        std::this_thread::sleep_until(std::chrono::system_clock::time_point(
            std::chrono::milliseconds(pal_until.get<std::int64_t>() + 50)));
        CHECK(send_text(*http, cid, "p-4", pal.token).status == 201);
        CHECK(http->get(g + "/mutes", owner.token).json()["mutes"].size() == 1);

        ws_client member_ws2(server.host(), server.port(), member.token);
        check_error(http->del(mute, pal.token), 403, "forbidden");
        REQUIRE(http->del(mute, owner.token).status == 204);
        auto unmuted = expect_event(member_ws2, "member_unmuted");
        CHECK(unmuted["user_id"] == member.user_id);
        CHECK(unmuted["group_id"] == gid);
        check_error(http->del(mute, owner.token), 404, "not_found");
        CHECK(send_text(*http, cid, "m-3", member.token).status == 201);
    }
}
