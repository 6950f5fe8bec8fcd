// Contract v1.1 "Adding members" (issue 18) against the real binary: `POST /groups` and
// `POST /groups/{id}/members` take only the caller's friends; unknown users stay 404, guests
// and strangers 403, and members already in the group are skipped whoever they are.

#include <catch2/catch.hpp>

#include "integration/rest_test_support.hpp"

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
