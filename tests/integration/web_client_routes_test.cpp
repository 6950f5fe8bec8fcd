// The two server additions of issue 19 (the web client): a per-user mute of a conversation,
// `PATCH /conversations/{cid}` {"muted_until"} with `muted_until` on every list entry, and the
// directory of public groups, `GET /groups?public=true&q=`.

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;

namespace {

std::string conv_path(const std::string& cid) { return api("/conversations/" + cid); }

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The caller's list entry of `cid`; null when it is not listed.
nlohmann::json entry_of(http_client& http, const std::string& token, const std::string& cid) {
    const auto r = http.get(api("/conversations"), token);
    REQUIRE(r.status == 200);
    const auto list = r.json();  // a range-for over a member of a temporary would dangle
    for (const auto& c : list["conversations"]) {
        if (c["conversation_id"] == cid) {
            return c;
        }
    }
    return nullptr;
}

std::vector<std::string> names_of(const nlohmann::json& page) {
    std::vector<std::string> out;
    for (const auto& g : page["groups"]) {
        out.push_back(g["name"]);
    }
    return out;
}

}  // namespace

TEST_CASE("a mute is stored per user, listed, told to the user's other devices, and lifted",
          "[integration][web19]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    befriend(http, alice, bob);
    const auto dm = dm_id(alice, bob);
    const auto gid = create_group(http, alice, {bob});
    const auto group = "group:" + gid;
    REQUIRE(http.post(api("/conversations/" + dm + "/messages"),
                      {{"client_msg_id", "m1"}, {"body", {{"type", "text"}, {"text", "hi"}}}},
                      alice.token)
                .status == 201);

    // Every entry carries muted_until, 0 while not muted.
    for (const auto& cid : {std::string("world"), dm, group}) {
        const auto e = entry_of(http, alice.token, cid);
        REQUIRE(e.is_object());
        CHECK(e["muted_until"] == 0);
    }

    ws_client other_device(server.host(), server.port(), alice.token);
    const std::int64_t until = now_ms() + 3600 * 1000;
    auto r = http.patch(conv_path(group), {{"muted_until", until}}, alice.token);
    REQUIRE(r.status == 200);
    CHECK(r.json()["conversation_id"] == group);
    CHECK(r.json()["muted_until"] == until);
    auto ev = other_device.expect("event");  // not const: a missing key reads as null
    CHECK(ev["event"] == "conversation_updated");
    CHECK(ev["conversation_id"] == group);
    CHECK(ev["muted_until"] == until);

    CHECK(entry_of(http, alice.token, group)["muted_until"] == until);
    // Per user: Bob's entry of the same group is not muted.
    CHECK(entry_of(http, bob.token, group)["muted_until"] == 0);
    // `world` and direct chats can be muted too; "for good" is a far-future time.
    const std::int64_t forever = (std::int64_t{1} << 53) - 1;
    REQUIRE(http.patch(conv_path("world"), {{"muted_until", forever}}, alice.token).status == 200);
    REQUIRE(http.patch(conv_path(dm), {{"muted_until", until}}, alice.token).status == 200);
    CHECK(entry_of(http, alice.token, "world")["muted_until"] == forever);
    CHECK(entry_of(http, alice.token, dm)["muted_until"] == until);

    // 0 unmutes; so does a time already past (stored and answered as 0).
    r = http.patch(conv_path(group), {{"muted_until", 0}}, alice.token);
    REQUIRE(r.status == 200);
    CHECK(r.json()["muted_until"] == 0);
    CHECK(entry_of(http, alice.token, group)["muted_until"] == 0);
    r = http.patch(conv_path(dm), {{"muted_until", now_ms() - 1000}}, alice.token);
    REQUIRE(r.status == 200);
    CHECK(r.json()["muted_until"] == 0);
    CHECK(entry_of(http, alice.token, dm)["muted_until"] == 0);
    CHECK(entry_of(http, alice.token, "world")["muted_until"] == forever);
}

TEST_CASE("a mute refuses bad input, strangers, guests and unknown conversations",
          "[integration][web19]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, "alice");
    const auto bob = register_user(http, "bob");
    const auto eve = register_user(http, "eve");
    befriend(http, alice, bob);
    const auto gid = create_group(http, alice, {bob});
    const auto group = "group:" + gid;
    const std::int64_t until = now_ms() + 60000;

    check_error(http.patch(conv_path(group), {{"muted_until", until}}), 401, "unauthenticated");
    check_error(http.patch(conv_path(group), {{"muted_until", "soon"}}, alice.token), 400,
                "invalid_argument");
    check_error(http.patch(conv_path(group), {{"muted_until", -5}}, alice.token), 400,
                "invalid_argument");
    check_error(http.patch(conv_path(group), {{"other", 1}}, alice.token), 400,
                "invalid_argument");
    check_error(http.request("PATCH", conv_path(group), std::string("{not json"), alice.token),
                400, "invalid_argument");
    // Past 2^53 - 1 (what a JavaScript number holds exactly).
    check_error(http.patch(conv_path(group), {{"muted_until", std::uint64_t{1} << 60}},
                           alice.token),
                400, "invalid_argument");
    check_error(http.patch(conv_path("nonsense"), {{"muted_until", until}}, alice.token), 400,
                "invalid_argument");

    // Not a member: 403; no such group: 404; someone else's direct chat: 403.
    check_error(http.patch(conv_path(group), {{"muted_until", until}}, eve.token), 403,
                "forbidden");
    check_error(http.patch(conv_path("group:424242"), {{"muted_until", until}}, alice.token), 404,
                "not_found");
    check_error(http.patch(conv_path(dm_id(alice, bob)), {{"muted_until", until}}, eve.token), 403,
                "forbidden");
    // Guests may use `world` only, and keep no settings.
    const auto g = guest(http);
    check_error(http.patch(conv_path("world"), {{"muted_until", until}}, g.token), 403,
                "forbidden");
    // Nothing of the refused calls was stored.
    CHECK(entry_of(http, alice.token, group)["muted_until"] == 0);
}

TEST_CASE("the public-group directory finds public groups by name, pages, and hides the rest",
          "[integration][web19]") {
    server_process server(rest_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto owner = register_user(http, "owner");
    const auto seeker = register_user(http, "seeker");
    std::vector<std::string> public_ids;
    for (const std::string name : {"Rust Fans", "rustaceans", "Go Gophers", "100% Coffee",
                                   "under_score", "Trusty"}) {
        const auto r = http.post(api("/groups"), {{"name", name}, {"public", true}}, owner.token);
        REQUIRE(r.status == 201);
        public_ids.push_back(r.json()["group"]["group_id"]);
    }
    REQUIRE(http.post(api("/groups"), {{"name", "Rust secret"}, {"public", false}}, owner.token)
                .status == 201);

    // Contains, ASCII case ignored; private groups never listed.
    auto r = http.get(api("/groups?public=true&q=rust"), seeker.token);
    REQUIRE(r.status == 200);
    CHECK(names_of(r.json()) == std::vector<std::string>{"Rust Fans", "rustaceans", "Trusty"});
    CHECK(r.json()["next"].is_null());
    const auto first = r.json()["groups"][0];
    CHECK(first["public"] == true);
    CHECK(first["member_count"] == 1);
    CHECK(first["conversation_id"] == "group:" + std::string(first["group_id"]));
    // LIKE's wildcards are taken literally.
    CHECK(names_of(http.get(api("/groups?public=true&q=%25"), seeker.token).json()) ==
          std::vector<std::string>{"100% Coffee"});
    CHECK(names_of(http.get(api("/groups?public=true&q=_"), seeker.token).json()) ==
          std::vector<std::string>{"under_score"});
    CHECK(names_of(http.get(api("/groups?public=true&q=nothing+like+it"), seeker.token).json())
              .empty());

    // No q: every public group, in pages of `limit`, `next` the last listed id.
    std::vector<std::string> seen;
    std::string after;
    for (int page = 0; page < 10; ++page) {
        r = http.get(api("/groups?public=true&limit=4" + (after.empty() ? "" : "&after=" + after)),
                     seeker.token);
        REQUIRE(r.status == 200);
        const auto j = r.json();
        CHECK(j["groups"].size() <= 4);
        for (const auto& g : j["groups"]) {
            seen.push_back(g["group_id"]);
        }
        if (j["next"].is_null()) {
            break;
        }
        CHECK(j["next"] == j["groups"].back()["group_id"]);
        after = j["next"];
    }
    CHECK(seen == public_ids);

    // A listed group can be joined by its id, which the directory gave.
    const std::string gid = http.get(api("/groups?public=true&q=Gophers"), seeker.token)
                                .json()["groups"][0]["group_id"];
    REQUIRE(http.post(api("/groups/" + gid + "/join"), seeker.token).status == 200);
    CHECK(http.get(api("/groups?public=true&q=Gophers"), seeker.token)
              .json()["groups"][0]["member_count"] == 2);
}

TEST_CASE("the public-group directory refuses bad input and guests", "[integration][web19]") {
    server_process server(rest_test_config({{"limits", {{"max_group_query_bytes", 8}}}}));
    server.start();
    http_client http(server.host(), server.port());
    const auto user = register_user(http, "user");
    REQUIRE(http.post(api("/groups"), {{"name", "Open"}, {"public", true}}, user.token).status ==
            201);

    check_error(http.get(api("/groups?public=true")), 401, "unauthenticated");
    check_error(http.get(api("/groups"), user.token), 400, "invalid_argument");
    check_error(http.get(api("/groups?public=false"), user.token), 400, "invalid_argument");
    check_error(http.get(api("/groups?public=true&limit=0"), user.token), 400, "invalid_argument");
    check_error(http.get(api("/groups?public=true&limit=x"), user.token), 400, "invalid_argument");
    check_error(http.get(api("/groups?public=true&after=abc"), user.token), 400,
                "invalid_argument");
    // q is at most limits.max_group_query_bytes (8 here) bytes.
    CHECK(http.get(api("/groups?public=true&q=12345678"), user.token).status == 200);
    check_error(http.get(api("/groups?public=true&q=123456789"), user.token), 400,
                "invalid_argument");
    // Guests cannot join groups, so they get no directory either.
    const auto g = guest(http);
    check_error(http.get(api("/groups?public=true"), g.token), 403, "forbidden");
    // A limit above 200 is clamped, as everywhere.
    CHECK(http.get(api("/groups?public=true&limit=100000"), user.token).status == 200);
}
