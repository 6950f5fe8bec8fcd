// Contract v1.1 "Adding members" and "Groups" (issue 18) against the real binary: `POST /groups`
// and `POST /groups/{id}/members` take only the caller's friends; unknown users stay 404, guests
// and strangers 403, and members already in the group are skipped whoever they are. Owners and
// admins mute and ban members and invite by link.

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

TEST_CASE("owners and admins mute, ban and invite by link",
          "[integration][groups][v11][moderation]") {
    json cfg = fast_test_config();  // durable: mutes outlive a restart
    cfg["limits"]["max_group_invites"] = 3;
    cfg["limits"]["group_join_rate"] = 5;
    server_process server(cfg);
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

    const auto member_count = [&] {
        return http->get(g, owner.token).json()["group"]["member_count"].get<int>();
    };

    // ---- bans ----
    {
        const std::string bans = g + "/bans";
        const json ban_pal = {{"user_id", pal.user_id}};
        check_error(http->post(bans, ban_pal), 401, "unauthenticated");
        check_error(http->post(bans, ban_pal, visitor.token), 403, "forbidden");
        check_error(http->post(bans, ban_pal, member.token), 403, "forbidden");
        check_error(http->post(bans, ban_pal, outsider.token), 403, "forbidden");
        check_error(http->post(bans, {{"user_id", owner.user_id}}, helper.token), 403, "forbidden");
        check_error(http->post(bans, {{"user_id", helper.user_id}}, helper.token), 400,
                    "invalid_argument");
        check_error(http->post(bans, json::object(), helper.token), 400, "invalid_argument");
        check_error(http->post(bans, {{"user_id", "424242"}}, helper.token), 404, "not_found");
        check_error(http->post(api("/groups/424242/bans"), ban_pal, helper.token), 404,
                    "not_found");
        check_error(http->del(bans + "/" + pal.user_id, helper.token), 404, "not_found");

        ws_client member_ws(server.host(), server.port(), member.token);
        ws_client pal_ws(server.host(), server.port(), pal.token);
        const int before = member_count();
        REQUIRE(http->post(bans, ban_pal, helper.token).status == 204);
        CHECK(expect_event(member_ws, "member_left")["user_id"] == pal.user_id);
        auto removed = expect_event(pal_ws, "member_left");
        CHECK(removed["user_id"] == pal.user_id);
        CHECK(removed["group_id"] == gid);
        CHECK(member_count() == before - 1);
        check_error(send_text(*http, cid, "p-5", pal.token), 403, "forbidden");
        check_error(http->get(api("/conversations/" + cid + "/messages?after_seq=0"), pal.token),
                    403, "forbidden");
        // Banning again is a no-op; so is banning someone who is not a member (yet).
        REQUIRE(http->post(bans, ban_pal, owner.token).status == 204);
        CHECK(member_count() == before - 1);
        REQUIRE(http->post(bans, {{"user_id", outsider.user_id}}, owner.token).status == 204);

        // No way back in while banned: adding (pal and outsider are the owner's friends), or
        // joining a public group.
        befriend(*http, owner, outsider);
        check_error(http->post(g + "/members", {{"user_ids", {pal.user_id}}}, owner.token), 403,
                    "forbidden");
        check_error(http->post(g + "/members", {{"user_ids", {outsider.user_id}}}, owner.token),
                    403, "forbidden");
        REQUIRE(http->patch(g, {{"public", true}}, owner.token).status == 200);
        check_error(http->post(g + "/join", json::object(), pal.token), 403, "forbidden");
        CHECK(member_count() == before - 1);

        auto listed = http->get(bans, owner.token);
        REQUIRE(listed.status == 200);
        const json all = listed.json()["bans"];
        REQUIRE(all.size() == 2);
        const bool pal_first = std::stoull(pal.user_id) < std::stoull(outsider.user_id);
        CHECK(all[pal_first ? 0 : 1]["user_id"] == pal.user_id);
        CHECK(all[pal_first ? 0 : 1]["banned_by"] == helper.user_id);
        CHECK(all[pal_first ? 0 : 1]["banned_at"].is_number());
        check_error(http->get(bans, member.token), 403, "forbidden");

        // Lifting the ban lets the user join again.
        check_error(http->del(bans + "/" + pal.user_id, member.token), 403, "forbidden");
        REQUIRE(http->del(bans + "/" + pal.user_id, helper.token).status == 204);
        check_error(http->del(bans + "/" + pal.user_id, helper.token), 404, "not_found");
        REQUIRE(http->post(g + "/join", json::object(), pal.token).status == 200);
        CHECK(member_count() == before);
        REQUIRE(http->patch(g, {{"public", false}}, owner.token).status == 200);
    }

    // ---- invite links ----
    {
        const std::string invites = g + "/invites";
        check_error(http->post(invites, json::object()), 401, "unauthenticated");
        check_error(http->post(invites, json::object(), visitor.token), 403, "forbidden");
        check_error(http->post(invites, json::object(), member.token), 403, "forbidden");
        check_error(http->post(invites, json::object(), outsider.token), 403, "forbidden");
        check_error(http->post(invites, {{"uses", 0}}, helper.token), 400, "invalid_argument");
        check_error(http->post(invites, {{"uses", 10001}}, helper.token), 400, "invalid_argument");
        check_error(http->post(invites, {{"uses", "2"}}, helper.token), 400, "invalid_argument");
        check_error(http->post(invites, {{"expires_in_s", 0}}, helper.token), 400,
                    "invalid_argument");
        check_error(http->post(invites, {{"expires_in_s", 2592001}}, helper.token), 400,
                    "invalid_argument");
        check_error(http->post(api("/groups/424242/invites"), json::object(), helper.token), 404,
                    "not_found");

        const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
        auto made = http->post(invites, {{"uses", 2}}, helper.token);
        REQUIRE(made.status == 201);
        const json link = made.json()["invite"];
        const std::string code = link["code"];
        CHECK(code.size() == 32);
        CHECK(code.find_first_not_of("0123456789abcdef") == std::string::npos);
        CHECK(link["uses_left"] == 2);
        // Without expires_in_s a link lives limits.max_group_invite_ttl_s (30 days).
        CHECK(link["expires_at"].get<std::int64_t>() >= before_ms + 2592000LL * 1000);
        auto brief = http->post(invites, {{"expires_in_s", 2}}, owner.token);
        REQUIRE(brief.status == 201);
        CHECK(brief.json()["invite"]["uses_left"] == 1);
        const std::string brief_code = brief.json()["invite"]["code"];
        const auto brief_end = brief.json()["invite"]["expires_at"].get<std::int64_t>();
        auto listed = http->get(invites, owner.token);
        REQUIRE(listed.status == 200);
        REQUIRE(listed.json()["invites"].size() == 2);
        check_error(http->get(invites, member.token), 403, "forbidden");
        // A banned user cannot come back by link, and the refusal uses nothing.
        check_error(http->post(api("/groups/join"), {{"code", code}}, outsider.token), 403,
                    "forbidden");
        const json live = http->get(invites, owner.token).json()["invites"];
        for (const auto& i : live) {
            if (i["code"] == code) {
                CHECK(i["uses_left"] == 2);
            }
        }

        const account first = register_user(*http, unique_name("first"));
        const account second = register_user(*http, unique_name("second"));
        const account third = register_user(*http, unique_name("third"));
        const std::string join = api("/groups/join");
        check_error(http->post(join, {{"code", code}}), 401, "unauthenticated");
        check_error(http->post(join, {{"code", code}}, visitor.token), 403, "forbidden");
        check_error(http->post(join, json::object(), first.token), 400, "invalid_argument");
        check_error(http->post(join, {{"code", ""}}, first.token), 400, "invalid_argument");
        check_error(http->post(join, {{"code", 7}}, first.token), 400, "invalid_argument");

        ws_client member_ws(server.host(), server.port(), member.token);
        const int before = member_count();
        auto joined = http->post(join, {{"code", code}}, first.token);
        REQUIRE(joined.status == 200);
        CHECK(joined.json()["group"]["group_id"] == gid);
        CHECK(joined.json()["group"]["member_count"] == before + 1);
        auto hello = expect_event(member_ws, "member_joined");
        CHECK(hello["user_ids"] == json::array({first.user_id}));
        // A member joining again uses nothing.
        CHECK(http->post(join, {{"code", code}}, first.token).status == 200);
        CHECK(http->post(join, {{"code", code}}, owner.token).status == 200);
        REQUIRE(http->post(join, {{"code", code}}, second.token).status == 200);
        CHECK(member_count() == before + 2);
        // Used up, unknown: the same 403 as an unknown registration invite.
        check_error(http->post(join, {{"code", code}}, third.token), 403, "forbidden");
        check_error(http->post(join, {{"code", std::string(32, 'a')}}, third.token), 403,
                    "forbidden");
        // Revoking.
        check_error(http->del(invites + "/" + brief_code, member.token), 403, "forbidden");
        check_error(http->del(invites + "/nosuchcode", owner.token), 404, "not_found");
        auto third_link = http->post(invites, json::object(), owner.token);
        REQUIRE(third_link.status == 201);
        const std::string revoked = third_link.json()["invite"]["code"];
        REQUIRE(http->del(invites + "/" + revoked, owner.token).status == 204);
        check_error(http->del(invites + "/" + revoked, owner.token), 404, "not_found");
        // An expired link.
        std::this_thread::sleep_until(
            std::chrono::system_clock::time_point(std::chrono::milliseconds(brief_end + 50)));
        check_error(http->post(join, {{"code", brief_code}}, third.token), 403, "forbidden");
        CHECK(member_count() == before + 2);
        // At most limits.max_group_invites (3 here) usable links; used-up and expired ones
        // neither count nor are listed.
        CHECK(http->get(invites, owner.token).json()["invites"].empty());
        REQUIRE(http->post(invites, json::object(), owner.token).status == 201);
        REQUIRE(http->post(invites, json::object(), owner.token).status == 201);
        REQUIRE(http->post(invites, json::object(), owner.token).status == 201);
        check_error(http->post(invites, json::object(), owner.token), 409, "conflict");
        // Attempts are limited per user (limits.group_join_rate, 5 here): third has used 3.
        check_error(http->post(join, {{"code", revoked}}, third.token), 403, "forbidden");
        check_error(http->post(join, {{"code", revoked}}, third.token), 403, "forbidden");
        auto limited = http->post(join, {{"code", revoked}}, third.token);
        check_error(limited, 429, "rate_limited");
        CHECK(std::stoi(limited.header("retry-after")) >= 1);
        // Others are not slowed down by it.
        check_error(http->post(join, {{"code", revoked}}, second.token), 403, "forbidden");
    }
}
