// Who is an admin (issue 17, protocol 1.1 "Admins"), against the real binary: only the
// usernames in auth.admins, read live; no first-user admin and no promotion when users go.

#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json with_admins(json admins) {
    auto cfg = fast_test_config();
    cfg["auth"]["admins"] = std::move(admins);
    return cfg;
}

// GET /api/v1/me's "admin" (the protocol 1.1 answer), checked against the admin API's.
bool is_admin(http_client& http, const account& who) {
    auto me = http.get("/api/v1/me", who.token);
    REQUIRE(me.status == 200);
    const auto j = me.json();
    REQUIRE(j["admin"].is_boolean());
    CHECK(j["user"]["user_id"] == who.user_id);
    const bool admin = j["admin"].get<bool>();
    CHECK(http.get("/api/v1/admin/stats", who.token).status == (admin ? 200 : 403));
    return admin;
}

void rewrite_config(const server_process& server, const json& patch) {
    json cfg;
    {
        std::ifstream in(server.config_path());
        in >> cfg;
    }
    cfg.merge_patch(patch);
    std::ofstream out(server.config_path(), std::ios::trunc);
    out << cfg.dump(2);
}

}  // namespace

TEST_CASE("the first registered user of a fresh server is not an admin", "[integration][admins]") {
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    auto first = register_user(http, unique_name("first"));
    auto second = register_user(http, unique_name("second"));
    CHECK_FALSE(is_admin(http, first));
    CHECK_FALSE(is_admin(http, second));
    auto g = guest(http);
    auto me = http.get("/api/v1/me", g.token);
    REQUIRE(me.status == 200);
    CHECK(me.json()["admin"] == false);
}

TEST_CASE("auth.admins names the admins, and a live change takes effect at once",
          "[integration][admins]") {
    const auto ops = unique_name("ops");
    server_process server(with_admins(json::array({ops})));
    server.start();
    http_client http(server.host(), server.port());
    auto first = register_user(http, unique_name("first"));
    auto admin = register_user(http, ops);
    CHECK_FALSE(is_admin(http, first));
    CHECK(is_admin(http, admin));

    // PATCH /admin/settings hands the role over: the old admin loses it on the next request.
    auto changed = http.patch("/api/v1/admin/settings", {{"auth.admins", json::array({first.username})}},
                              admin.token);
    REQUIRE(changed.status == 200);
    CHECK(changed.json()["applied"] == json::array({"auth.admins"}));
    CHECK(is_admin(http, first));
    CHECK_FALSE(is_admin(http, admin));
    // A wrong type is refused, naming the key, and changes nothing.
    auto bad = http.patch("/api/v1/admin/settings", {{"auth.admins", 5}}, first.token);
    CHECK(bad.status == 400);
    CHECK(bad.json()["error"]["message"].get<std::string>().find("auth.admins") != std::string::npos);
    CHECK(is_admin(http, first));

    // A reload of the file (SIGHUP) does the same; the comma-separated form still reads.
    rewrite_config(server, {{"auth", {{"admins", ops + ", " + unique_name("nobody")}}}});
    server.signal(SIGHUP);
    REQUIRE(wait_until([&] { return http.get("/api/v1/admin/stats", admin.token).status == 200; },
                       10s));
    CHECK(is_admin(http, admin));
    CHECK_FALSE(is_admin(http, first));
    auto listed = http.get("/api/v1/admin/users", admin.token);
    REQUIRE(listed.status == 200);
    const json users = listed.json();  // named: a range-for over a temporary's member dangles
    for (const auto& u : users["users"]) {
        CHECK(u["admin"] == (u["user_id"] == admin.user_id));
    }
}

TEST_CASE("deleting users promotes no one", "[integration][admins]") {
    const auto ops = unique_name("ops");
    server_process server(with_admins(json::array({ops})));
    server.start();
    http_client http(server.host(), server.port());
    auto oldest = register_user(http, unique_name("oldest"));
    auto next = register_user(http, unique_name("next"));
    auto admin = register_user(http, ops);
    CHECK_FALSE(is_admin(http, oldest));
    REQUIRE(http.del("/api/v1/admin/users/" + oldest.user_id, admin.token).status == 200);
    CHECK_FALSE(is_admin(http, next));
    CHECK(is_admin(http, admin));
    // With no admin left named, nobody is one.
    REQUIRE(http.patch("/api/v1/admin/settings", {{"auth.admins", json::array()}}, admin.token)
                .status == 200);
    CHECK_FALSE(is_admin(http, admin));
    CHECK_FALSE(is_admin(http, next));
}

TEST_CASE("MONOCHAT_AUTH_ADMINS names admins as a list or a JSON array", "[integration][admins]") {
    const auto a = unique_name("ada");
    const auto b = unique_name("bea");
    const std::vector<std::string> values{a + "," + b, "[\"" + a + "\", \"" + b + "\"]"};
    for (const auto& value : values) {
        INFO(value);
        server_process server(fast_test_config(), {{"MONOCHAT_AUTH_ADMINS", value}});
        server.start();
        http_client http(server.host(), server.port());
        auto other = register_user(http, unique_name("other"));
        auto ua = register_user(http, a);
        auto ub = register_user(http, b);
        CHECK(is_admin(http, ua));
        CHECK(is_admin(http, ub));
        CHECK_FALSE(is_admin(http, other));
    }
    auto bad = run_monochat({"--print-config"}, {{"MONOCHAT_AUTH_ADMINS", "[\"unterminated"}});
    CHECK(bad.exit.code != 0);
    CHECK(bad.output.find("MONOCHAT_AUTH_ADMINS") != std::string::npos);
}
