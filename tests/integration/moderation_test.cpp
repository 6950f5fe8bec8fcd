// Contract v1.1 "Blocking" and "Groups" (issue 18) against the real binary: a block ends the
// friendship and pending requests, and the blocked user can no longer befriend, message, add or
// watch the presence of the blocker; owners and admins change a group's name, description and
// visibility. One server per case, many steps.

#include <catch2/catch.hpp>
#include <chrono>

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
