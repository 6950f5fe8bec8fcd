// Contract v1.1 "Adding members" and "Groups" (issue 18) against the real binary: `POST /groups`
// and `POST /groups/{id}/members` take only the caller's friends; unknown users stay 404, guests
// and strangers 403, and members already in the group are skipped whoever they are. Owners and
// admins mute and ban members and invite by link.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
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

// ---- deleting a group (contract v1.1, "Groups"): one durable server, restarted once ----

namespace {

// Whether a file under `dir` holds `marker`.
bool files_hold(const std::filesystem::path& dir, const std::string& marker) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
        if (!entry.is_regular_file()) {
            continue;
        }
        std::ifstream in(entry.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
        if (bytes.find(marker) != std::string::npos) {
            return true;
        }
    }
    return false;
}

json message(const std::string& cmid, json body) {
    return {{"client_msg_id", cmid}, {"body", std::move(body)}};
}

}  // namespace

TEST_CASE("the owner deletes a group: gone for everyone, and from disk",
          "[integration][groups][v11][delete]") {
    server_process server(fast_test_config());  // durable: the deletion outlives a restart
    server.start();
    auto http = std::make_unique<http_client>(server.host(), server.port());
    const account owner = register_user(*http, unique_name("owner"));
    const account helper = register_user(*http, unique_name("helper"));
    const account member = register_user(*http, unique_name("member"));
    const account outsider = register_user(*http, unique_name("outsider"));
    const account visitor = guest(*http, "visitor");
    const std::string gid = create_group(*http, owner, {helper, member});
    const std::string g = api("/groups/" + gid);
    const std::string cid = "group:" + gid;
    const std::string messages = api("/conversations/" + cid + "/messages");
    REQUIRE(http->patch(g + "/members/" + helper.user_id, {{"role", "admin"}}, owner.token).status ==
            200);
    // A word no other test writes, to look for in search and in the log's files.
    std::string marker = "quokka";
    for (const char c : std::to_string(::getpid())) {
        marker += static_cast<char>('a' + (c - '0'));
    }

    // The group gets history, a reaction, read state, files, an invite link, a mute and a ban.
    REQUIRE(send_text(*http, cid, "t1", owner.token, "first " + marker).status == 201);
    REQUIRE(send_text(*http, cid, "t2", member.token, "second " + marker).status == 201);
    REQUIRE(http->post(messages,
                       message("r1", {{"type", "reaction"}, {"target_seq", 1}, {"emoji", "🔥"},
                                      {"op", "add"}}),
                       member.token)
                .status == 201);
    REQUIRE(http->post(api("/conversations/" + cid + "/read"), {{"seq", 3}}, member.token).status ==
            204);
    const auto upload = [&](const std::string& name, const std::string& bytes) {
        auto r = http->request("POST", api("/files?name=" + name), bytes, owner.token,
                               {{"Content-Type", "application/octet-stream"}});
        REQUIRE(r.status == 201);
        return r.json()["file"]["file_id"].get<std::string>();
    };
    const std::string only_here = upload("only-here.bin", "only in the group");
    const std::string also_dm = upload("also-dm.bin", "in the group and a dm");
    REQUIRE(http->post(messages, message("f1", {{"type", "file"}, {"file_id", only_here}}),
                       owner.token)
                .status == 201);
    REQUIRE(http->post(messages, message("f2", {{"type", "file"}, {"file_id", also_dm}}),
                       owner.token)
                .status == 201);
    const std::string dm = dm_id(owner, member);
    REQUIRE(http->post(api("/conversations/" + dm + "/messages"),
                       message("f3", {{"type", "file"}, {"file_id", also_dm}}), owner.token)
                .status == 201);
    auto invite = http->post(g + "/invites", json::object(), owner.token);
    REQUIRE(invite.status == 201);
    const std::string code = invite.json()["invite"]["code"];
    REQUIRE(http->post(g + "/members/" + member.user_id + "/mute", {{"duration_s", 0}},
                       helper.token)
                .status == 204);
    REQUIRE(http->post(g + "/bans", {{"user_id", outsider.user_id}}, owner.token).status == 204);
    const auto search_hits = [&](const account& who) {
        auto r = http->get(api("/search/messages?q=" + marker), who.token);
        REQUIRE(r.status == 200);
        return r.json()["messages"].size();
    };
    REQUIRE(wait_until([&] { return search_hits(member) == 2; }, std::chrono::milliseconds(10000)));

    // Refusals: only the owner deletes; nothing changes.
    check_error(http->del(g), 401, "unauthenticated");
    check_error(http->del(g, visitor.token), 403, "forbidden");
    check_error(http->del(g, member.token), 403, "forbidden");
    check_error(http->del(g, helper.token), 403, "forbidden");
    check_error(http->del(g, outsider.token), 403, "forbidden");
    check_error(http->del(api("/groups/424242"), owner.token), 404, "not_found");
    check_error(http->del(api("/groups/x"), owner.token), 400, "invalid_argument");
    CHECK(http->get(g, member.token).status == 200);

    // Every live connection of every member is told.
    ws_client member_ws(server.host(), server.port(), member.token);
    ws_client member_ws2(server.host(), server.port(), member.token);
    ws_client helper_ws(server.host(), server.port(), helper.token);
    REQUIRE(http->del(g, owner.token).status == 204);
    for (ws_client* ws : {&member_ws, &member_ws2, &helper_ws}) {
        auto deleted = expect_event(*ws, "group_deleted");
        CHECK(deleted["group_id"] == gid);
        CHECK(deleted["conversation_id"] == cid);
    }

    // Gone for everyone, whatever they ask.
    const auto gone_for = [&](const account& who) {
        INFO(who.username);
        check_error(http->get(g, who.token), 404, "not_found");
        check_error(http->get(messages + "?after_seq=0", who.token), 404, "not_found");
        check_error(http->get(messages + "?before_seq=10", who.token), 404, "not_found");
        check_error(http->get(messages + "/1/readers", who.token), 404, "not_found");
        check_error(http->get(messages + "/1/reactions?emoji=%F0%9F%94%A5", who.token), 404,
                    "not_found");
        check_error(send_text(*http, cid, "after-" + who.username, who.token), 404, "not_found");
        check_error(http->post(api("/conversations/" + cid + "/read"), {{"seq", 1}}, who.token),
                    404, "not_found");
        // Named: a range-for over a member of a temporary reads freed memory (before C++23).
        const auto list = http->get(api("/conversations"), who.token).json();
        for (const auto& c : list["conversations"]) {
            CHECK(c["conversation_id"] != cid);
        }
        CHECK(search_hits(who) == 0);
    };
    gone_for(owner);
    gone_for(helper);
    gone_for(member);
    member_ws.send({{"type", "sync"}, {"id", "s"}, {"conversation_id", cid}, {"after_seq", 0}});
    auto refused = member_ws.expect("error", std::chrono::seconds(5));
    CHECK(refused["id"] == "s");
    CHECK(refused["code"] == "not_found");
    check_error(http->del(g, owner.token), 404, "not_found");
    check_error(http->patch(g, {{"name", "back"}}, helper.token), 404, "not_found");
    check_error(http->get(g + "/members", owner.token), 404, "not_found");
    // Its invite link is dead (the answer of an unknown code).
    const account newcomer = register_user(*http, unique_name("newcomer"));
    check_error(http->post(api("/groups/join"), {{"code", code}}, newcomer.token), 403,
                "forbidden");
    // A file shared only there went with it; one also shared in a direct chat stays.
    check_error(http->get(api("/files/" + only_here), owner.token), 404, "not_found");
    check_error(http->get(api("/files/" + only_here), member.token), 404, "not_found");
    CHECK(http->get(api("/files/" + also_dm), member.token).status == 200);
    check_error(http->get(api("/files/" + also_dm), helper.token), 403, "forbidden");

    // A restart changes nothing, and the log's files hold nothing of the group.
    server.stop();
    CHECK_FALSE(files_hold(std::filesystem::path(server.data_dir()) / "messages", marker));
    server.start();
    http = std::make_unique<http_client>(server.host(), server.port());
    check_error(http->get(g, owner.token), 404, "not_found");
    check_error(http->get(messages + "?after_seq=0", member.token), 404, "not_found");
    check_error(http->get(api("/files/" + only_here), owner.token), 404, "not_found");
    CHECK(http->get(api("/files/" + also_dm), member.token).status == 200);
    CHECK(search_hits(member) == 0);
    CHECK_FALSE(files_hold(std::filesystem::path(server.data_dir()) / "messages", marker));
    // The other conversations are untouched.
    auto dm_history = http->get(api("/conversations/" + dm + "/messages?after_seq=0"), member.token);
    REQUIRE(dm_history.status == 200);
    CHECK(dm_history.json()["messages"].size() == 1);
}
