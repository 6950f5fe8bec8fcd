// Groups over HTTP (issue 4): create, get, members with paging, add and remove with the role
// rules, role changes and ownership transfer, public join, the member limit, and the
// member_joined / member_left / group_updated events on WebSockets.

#include <catch2/catch.hpp>
#include <chrono>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;

namespace {

std::string members_path(const std::string& gid) { return api("/groups/" + gid + "/members"); }

std::string role_of(http_client& http, const std::string& gid, const std::string& user,
                    const std::string& token) {
    const auto page = http.get(members_path(gid) + "?limit=200", token).json();
    for (const auto& m : page["members"]) {
        if (m["user_id"] == user) {
            return m["role"];
        }
    }
    return "";
}

}  // namespace

TEST_CASE("a group is created with its owner and members, read, and paged",
          "[integration][groups]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, "owner");
    std::vector<account> members;
    for (int i = 0; i < 4; ++i) {
        members.push_back(register_user(http, "member" + std::to_string(i)));
        befriend(http, owner, members.back());  // members come only from friends
    }
    const auto outsider = register_user(http, "outsider");

    nlohmann::json ids = nlohmann::json::array();
    for (const auto& m : members) {
        ids.push_back(m.user_id);
    }
    ids.push_back(members[0].user_id);  // duplicates and the owner are ignored
    ids.push_back(owner.user_id);
    auto created = http.post(api("/groups"), {{"name", "Team"}, {"member_ids", ids}}, owner.token);
    REQUIRE(created.status == 201);
    const auto g = created.json()["group"];
    const std::string gid = g["group_id"];
    CHECK(g["conversation_id"] == "group:" + gid);
    CHECK(g["name"] == "Team");
    CHECK(g["owner_id"] == owner.user_id);
    CHECK(g["public"] == false);
    CHECK(g["member_count"] == 5);

    CHECK(http.get(api("/groups/" + gid), members[2].token).json()["group"] == g);
    check_error(http.get(api("/groups/" + gid), outsider.token), 403, "forbidden");
    check_error(http.get(members_path(gid), outsider.token), 403, "forbidden");
    check_error(http.get(api("/groups/424242"), owner.token), 404, "not_found");
    check_error(http.get(api("/groups/abc"), owner.token), 400, "invalid_argument");
    check_error(http.get(api("/groups/" + gid)), 401, "unauthenticated");

    // Paging: ascending user_id, `next` is the last listed id, null on the last page.
    std::vector<std::string> seen;
    std::string after;
    for (int page = 0; page < 10; ++page) {
        auto r = http.get(members_path(gid) + "?limit=2" + (after.empty() ? "" : "&after=" + after),
                          owner.token);
        REQUIRE(r.status == 200);
        const auto j = r.json();
        for (const auto& m : j["members"]) {
            seen.push_back(m["user_id"]);
        }
        if (j["next"].is_null()) {
            break;
        }
        CHECK(j["next"] == j["members"].back()["user_id"]);
        after = j["next"];
    }
    REQUIRE(seen.size() == 5);
    CHECK(std::is_sorted(seen.begin(), seen.end(), [](const std::string& a, const std::string& b) {
        return std::stoull(a) < std::stoull(b);
    }));
    auto all = http.get(members_path(gid), owner.token).json();
    CHECK(all["members"].size() == 5);
    CHECK(all["next"].is_null());
    CHECK(role_of(http, gid, owner.user_id, owner.token) == "owner");
    CHECK(role_of(http, gid, members[1].user_id, owner.token) == "member");
    check_error(http.get(members_path(gid) + "?limit=0", owner.token), 400, "invalid_argument");
    check_error(http.get(members_path(gid) + "?after=x", owner.token), 400, "invalid_argument");

    check_error(http.post(api("/groups"), {{"name", ""}}, owner.token), 400, "invalid_argument");
    check_error(http.post(api("/groups"), {{"name", std::string(65, 'g')}}, owner.token), 400,
                "invalid_argument");
    check_error(http.post(api("/groups"), {{"name", "x"}, {"member_ids", {"424242"}}}, owner.token),
                404, "not_found");
    check_error(http.post(api("/groups"), {{"name", "x"}, {"public", "yes"}}, owner.token), 400,
                "invalid_argument");
}

TEST_CASE("owners and admins add and remove, anyone leaves, the owner leaves after a transfer",
          "[integration][groups]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, "owner");
    const auto admin = register_user(http, "admin");
    const auto m1 = register_user(http, "member1");
    const auto m2 = register_user(http, "member2");
    const auto m3 = register_user(http, "member3");
    const std::string gid = create_group(http, owner, {admin, m1});
    const auto member_path = [&](const account& a) { return members_path(gid) + "/" + a.user_id; };

    befriend(http, admin, m2);  // each adds only its own friends
    befriend(http, admin, m3);
    // Members cannot add; owners and admins can.
    check_error(http.post(members_path(gid), {{"user_ids", {m2.user_id}}}, m1.token), 403,
                "forbidden");
    check_error(http.patch(member_path(admin), {{"role", "admin"}}, m1.token), 403, "forbidden");
    auto promoted = http.patch(member_path(admin), {{"role", "admin"}}, owner.token);
    REQUIRE(promoted.status == 200);
    CHECK(promoted.json()["group"]["group_id"] == gid);
    CHECK(role_of(http, gid, admin.user_id, owner.token) == "admin");
    auto added = http.post(members_path(gid), {{"user_ids", {m2.user_id, m3.user_id}}}, admin.token);
    REQUIRE(added.status == 200);
    CHECK(added.json()["group"]["member_count"] == 5);
    // Adding someone already in the group changes nothing.
    CHECK(http.post(members_path(gid), {{"user_ids", {m2.user_id}}}, owner.token)
              .json()["group"]["member_count"] == 5);
    check_error(http.post(members_path(gid), {{"user_ids", {"424242"}}}, owner.token), 404,
                "not_found");
    check_error(http.post(members_path(gid), {{"user_ids", "nope"}}, owner.token), 400,
                "invalid_argument");
    check_error(http.post(members_path(gid), nlohmann::json::object(), owner.token), 400,
                "invalid_argument");

    // Removing: admins remove members but not the owner; members remove only themselves.
    CHECK(http.del(member_path(m3), admin.token).status == 204);
    check_error(http.del(member_path(owner), admin.token), 403, "forbidden");
    check_error(http.del(member_path(m1), m2.token), 403, "forbidden");
    check_error(http.del(member_path(m3), owner.token), 404, "not_found");
    CHECK(http.del(member_path(m2), m2.token).status == 204);
    check_error(http.del(member_path(m2), m2.token), 404, "not_found");

    // The owner cannot leave or step down until ownership passes.
    check_error(http.del(member_path(owner), owner.token), 409, "conflict");
    check_error(http.patch(member_path(owner), {{"role", "member"}}, owner.token), 409, "conflict");
    check_error(http.patch(member_path(m1), {{"role", "king"}}, owner.token), 400,
                "invalid_argument");
    check_error(http.patch(member_path(m1), {{"role", 1}}, owner.token), 400, "invalid_argument");
    check_error(http.patch(member_path(m1), nlohmann::json::object(), owner.token), 400,
                "invalid_argument");
    check_error(http.patch(member_path(m3), {{"role", "admin"}}, owner.token), 404, "not_found");
    auto transferred = http.patch(member_path(m1), {{"role", "owner"}}, owner.token);
    REQUIRE(transferred.status == 200);
    CHECK(transferred.json()["group"]["owner_id"] == m1.user_id);
    CHECK(role_of(http, gid, owner.user_id, m1.token) == "admin");
    CHECK(role_of(http, gid, m1.user_id, m1.token) == "owner");
    // The former owner is an admin now: it may leave, and may not change roles any more.
    check_error(http.patch(member_path(admin), {{"role", "member"}}, owner.token), 403,
                "forbidden");
    CHECK(http.del(member_path(owner), owner.token).status == 204);
    check_error(http.get(api("/groups/" + gid), owner.token), 403, "forbidden");
    CHECK(http.get(api("/groups/" + gid), m1.token).json()["group"]["member_count"] == 2);
    check_error(http.del(members_path("424242") + "/" + m1.user_id, m1.token), 404, "not_found");
    check_error(http.del(members_path(gid) + "/abc", m1.token), 400, "invalid_argument");
}

TEST_CASE("public groups can be joined once, private ones cannot, the member limit holds",
          "[integration][groups]") {
    server_process server(rest_test_config({{"limits", {{"max_group_members", 3}}}}));
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, "owner");
    const auto a = register_user(http, "alice");
    const auto b = register_user(http, "bob");
    const auto c = register_user(http, "carol");
    const std::string pub = create_group(http, owner, {}, true);
    const std::string priv = create_group(http, owner, {}, false);
    for (const auto* u : {&a, &b, &c}) {
        befriend(http, owner, *u);
    }

    // Public groups are visible to anyone registered.
    CHECK(http.get(api("/groups/" + pub), a.token).json()["group"]["public"] == true);
    auto joined = http.post(api("/groups/" + pub + "/join"), a.token);
    REQUIRE(joined.status == 200);
    CHECK(joined.json()["group"]["member_count"] == 2);
    auto again = http.post(api("/groups/" + pub + "/join"), a.token);
    REQUIRE(again.status == 200);  // a no-op
    CHECK(again.json()["group"]["member_count"] == 2);
    check_error(http.post(api("/groups/" + priv + "/join"), a.token), 403, "forbidden");
    check_error(http.post(api("/groups/424242/join"), a.token), 404, "not_found");
    check_error(http.post(api("/groups/x/join"), a.token), 400, "invalid_argument");

    REQUIRE(http.post(api("/groups/" + pub + "/join"), b.token).status == 200);
    check_error(http.post(api("/groups/" + pub + "/join"), c.token), 409, "conflict");
    check_error(http.post(members_path(priv), {{"user_ids", {a.user_id, b.user_id, c.user_id}}},
                          owner.token),
                409, "conflict");
    check_error(http.post(api("/groups"),
                          {{"name", "big"}, {"member_ids", {a.user_id, b.user_id, c.user_id}}},
                          owner.token),
                409, "conflict");
}

TEST_CASE("group events reach every member, the one leaving included",
          "[integration][groups]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, "owner");
    const auto a = register_user(http, "alice");
    const auto b = register_user(http, "bob");
    befriend(http, owner, a);  // before the sockets: their events are not what is tested
    ws_client owner_ws(server.host(), server.port(), owner.token);
    ws_client a_ws(server.host(), server.port(), a.token);
    ws_client b_ws(server.host(), server.port(), b.token);
    const std::string gid = create_group(http, owner, {a}, true);

    for (auto* ws : {&owner_ws, &a_ws}) {
        // Not const: a missing key reads as null, not undefined behaviour (const operator[]).
        auto e = ws->expect("event");
        CHECK(e["event"] == "member_joined");
        CHECK(e["group_id"] == gid);
        CHECK(e["conversation_id"] == "group:" + gid);
        CHECK(e["user_ids"] == nlohmann::json::array({a.user_id}));
    }
    REQUIRE(http.post(api("/groups/" + gid + "/join"), b.token).status == 200);
    for (auto* ws : {&owner_ws, &a_ws, &b_ws}) {
        auto e = ws->expect("event");
        CHECK(e["event"] == "member_joined");
        CHECK(e["user_ids"] == nlohmann::json::array({b.user_id}));
    }
    REQUIRE(http.patch(members_path(gid) + "/" + a.user_id, {{"role", "admin"}}, owner.token)
                .status == 200);
    for (auto* ws : {&owner_ws, &a_ws, &b_ws}) {
        auto e = ws->expect("event");
        CHECK(e["event"] == "group_updated");
        CHECK(e["group"]["group_id"] == gid);
        CHECK(e["role"] == "admin");
        CHECK(e["user_id"] == a.user_id);
    }
    REQUIRE(http.del(members_path(gid) + "/" + b.user_id, a.token).status == 204);
    for (auto* ws : {&owner_ws, &a_ws, &b_ws}) {
        auto e = ws->expect("event");
        CHECK(e["event"] == "member_left");
        CHECK(e["group_id"] == gid);
        CHECK(e["user_id"] == b.user_id);
    }
    REQUIRE(http.patch(members_path(gid) + "/" + a.user_id, {{"role", "owner"}}, owner.token)
                .status == 200);
    for (auto* ws : {&owner_ws, &a_ws}) {
        auto e = ws->expect("event");
        CHECK(e["event"] == "group_updated");
        CHECK(e["group"]["owner_id"] == a.user_id);
    }
    CHECK(b_ws.pending("event") == 0);
}
