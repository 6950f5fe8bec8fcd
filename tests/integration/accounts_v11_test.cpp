// Contract v1.1 "Accounts and sessions" (issue 18) against the real binary: profile edit,
// password change (other sessions' sockets close with 4001), the session list and revoking one,
// log out everywhere, admin password resets and POST /auth/reset, self-deletion, registration
// modes and invites, admin-made accounts, and the offline `monochat user` commands. One server
// per test case; each case walks many steps.

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <regex>
#include <thread>

#include "integration/rest_test_support.hpp"
#include "support/run_with_input.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* password = "correct horse battery";

json v11_config(const std::string& admin) {
    json cfg = rest_test_config();
    cfg["auth"]["admins"] = json::array({admin});
    cfg["auth"]["login_max_failures"] = 3;
    return cfg;
}

std::string login(http_client& http, const std::string& username, const std::string& pw,
                  const std::string& user_agent = "monochat-test") {
    auto r = http.request("POST", api("/auth/login"),
                          json{{"username", username}, {"password", pw}}.dump(), {},
                          {{"User-Agent", user_agent}});
    INFO(r.body);
    REQUIRE(r.status == 200);
    return r.json()["token"];
}

http_reply delete_me(http_client& http, const std::string& token, const json& body) {
    return http.request("DELETE", api("/me"), body.dump(), token);
}

}  // namespace

TEST_CASE("profile, password change, sessions and log out everywhere",
          "[integration][accounts][v11]") {
    const std::string root = unique_name("root");
    server_process server(v11_config(root));
    server.start();
    http_client http(server.host(), server.port());
    const account alice = register_user(http, unique_name("alice"));
    const account bob = register_user(http, unique_name("bob"));

    // ---- PATCH /me ----
    auto renamed = http.patch(api("/me"), {{"display_name", "Alice A."}}, alice.token);
    REQUIRE(renamed.status == 200);
    CHECK(renamed.json()["user"]["display_name"] == "Alice A.");
    CHECK(renamed.json()["user"]["user_id"] == alice.user_id);
    CHECK(http.get(api("/users/" + alice.user_id), bob.token).json()["user"]["display_name"] ==
          "Alice A.");
    check_error(http.patch(api("/me"), {{"display_name", ""}}, alice.token), 400,
                "invalid_argument");
    check_error(http.patch(api("/me"), {{"display_name", "a\x01"}}, alice.token), 400,
                "invalid_argument");
    check_error(http.patch(api("/me"), json::object(), alice.token), 400, "invalid_argument");
    check_error(http.patch(api("/me"), {{"display_name", "x"}}), 401, "unauthenticated");

    // ---- GET /me/sessions ----
    const std::string second = login(http, alice.username, password, "phone/2.0");
    const std::string third = login(http, alice.username, password, "laptop/3.0");
    auto listed = http.get(api("/me/sessions"), alice.token);
    REQUIRE(listed.status == 200);
    auto sessions = listed.json()["sessions"];
    REQUIRE(sessions.size() == 3);
    int current = 0;
    std::string phone_session;
    for (const auto& s : sessions) {
        CHECK(s["session_id"].is_string());
        CHECK(s["created_at"].is_number());
        CHECK(s["last_used_at"].get<std::int64_t>() >= s["created_at"].get<std::int64_t>());
        current += s["current"].get<bool>() ? 1 : 0;
        if (s["user_agent"] == "phone/2.0") {
            phone_session = s["session_id"];
        }
    }
    CHECK(current == 1);
    REQUIRE_FALSE(phone_session.empty());
    // Bob sees only his own.
    CHECK(http.get(api("/me/sessions"), bob.token).json()["sessions"].size() == 1);

    // ---- POST /me/password ----
    ws_client keep_ws(server.host(), server.port(), alice.token);
    ws_client phone_ws(server.host(), server.port(), second);
    ws_client laptop_ws(server.host(), server.port(), third);
    check_error(http.post(api("/me/password"),
                          {{"current_password", "wrong password"}, {"new_password", "new secret 1"}},
                          alice.token),
                403, "forbidden");
    check_error(http.post(api("/me/password"),
                          {{"current_password", password}, {"new_password", "short"}}, alice.token),
                400, "invalid_argument");
    check_error(http.post(api("/me/password"), {{"current_password", password}}, alice.token), 400,
                "invalid_argument");
    // A refused change changed nothing.
    CHECK(http.get(api("/me"), second).status == 200);
    auto changed = http.post(api("/me/password"),
                             {{"current_password", password}, {"new_password", "new secret 1"}},
                             alice.token);
    REQUIRE(changed.status == 204);
    CHECK(phone_ws.wait_closed(5s));
    CHECK(phone_ws.close_code() == 4001);
    CHECK(laptop_ws.wait_closed(5s));
    CHECK(laptop_ws.close_code() == 4001);
    check_error(http.get(api("/me"), second), 401, "unauthenticated");
    check_error(http.get(api("/me"), third), 401, "unauthenticated");
    CHECK(http.get(api("/me"), alice.token).status == 200);
    keep_ws.send({{"type", "ping"}, {"id", "p1"}});
    CHECK(keep_ws.expect("pong", 5s)["id"] == "p1");
    check_error(http.post(api("/auth/login"),
                          {{"username", alice.username}, {"password", password}}),
                401, "unauthenticated");
    const std::string fourth = login(http, alice.username, "new secret 1", "tablet/4.0");

    // Guessing the current password is limited like logins (auth.login_max_failures = 3).
    for (int i = 0; i < 3; ++i) {
        check_error(http.post(api("/me/password"),
                              {{"current_password", "guess " + std::to_string(i)},
                               {"new_password", "new secret 2"}},
                              bob.token),
                    403, "forbidden");
    }
    auto locked = http.post(api("/me/password"),
                            {{"current_password", password}, {"new_password", "new secret 2"}},
                            bob.token);
    check_error(locked, 429, "rate_limited");
    CHECK_FALSE(locked.header("retry-after").empty());

    // ---- DELETE /me/sessions/{session_id} ----
    std::string tablet_session;
    const json after_change = http.get(api("/me/sessions"), alice.token).json();
    for (const auto& s : after_change["sessions"]) {
        if (s["user_agent"] == "tablet/4.0") {
            tablet_session = s["session_id"];
        }
        CHECK(s["session_id"] != phone_session);  // revoked by the password change
    }
    REQUIRE_FALSE(tablet_session.empty());
    ws_client tablet_ws(server.host(), server.port(), fourth);
    check_error(http.del(api("/me/sessions/" + tablet_session), bob.token), 404, "not_found");
    CHECK(http.get(api("/me"), fourth).status == 200);
    REQUIRE(http.del(api("/me/sessions/" + tablet_session), alice.token).status == 204);
    CHECK(tablet_ws.wait_closed(5s));
    CHECK(tablet_ws.close_code() == 4001);
    check_error(http.get(api("/me"), fourth), 401, "unauthenticated");
    check_error(http.del(api("/me/sessions/" + tablet_session), alice.token), 404, "not_found");
    check_error(http.del(api("/me/sessions/abc"), alice.token), 400, "invalid_argument");

    // ---- POST /auth/logout-all ----
    const std::string fifth = login(http, alice.username, "new secret 1");
    ws_client fifth_ws(server.host(), server.port(), fifth);
    REQUIRE(http.post(api("/auth/logout-all"), alice.token).status == 204);
    CHECK(keep_ws.wait_closed(5s));
    CHECK(keep_ws.close_code() == 4001);
    CHECK(fifth_ws.wait_closed(5s));
    CHECK(fifth_ws.close_code() == 4001);
    check_error(http.get(api("/me"), alice.token), 401, "unauthenticated");
    check_error(http.get(api("/me"), fifth), 401, "unauthenticated");
    check_error(http.post(api("/auth/logout-all"), alice.token), 401, "unauthenticated");
    CHECK(http.get(api("/me"), bob.token).status == 200);  // nobody else's

    // ---- guests have no password ----
    const account g = guest(http, "visitor");
    CHECK(http.patch(api("/me"), {{"display_name", "Visitor 2"}}, g.token).status == 200);
    check_error(http.post(api("/me/password"),
                          {{"current_password", "whatever1"}, {"new_password", "whatever2"}},
                          g.token),
                403, "forbidden");
    check_error(delete_me(http, g.token, {{"password", "whatever1"}}), 403, "forbidden");
}

TEST_CASE("an admin's password reset works once and ends every older session",
          "[integration][accounts][v11]") {
    const std::string root = unique_name("root");
    server_process server(v11_config(root));
    server.start();
    http_client http(server.host(), server.port());
    const account admin = register_user(http, root);
    const account alice = register_user(http, unique_name("alice"));
    const account g = guest(http, "visitor");

    const std::string reset_path = api("/admin/users/" + alice.user_id + "/password-reset");
    check_error(http.post(reset_path, alice.token), 403, "forbidden");
    check_error(http.post(reset_path), 401, "unauthenticated");
    check_error(http.post(api("/admin/users/" + g.user_id + "/password-reset"), admin.token), 404,
                "not_found");
    check_error(http.post(api("/admin/users/12345/password-reset"), admin.token), 404,
                "not_found");
    auto issued = http.post(reset_path, admin.token);
    REQUIRE(issued.status == 200);
    const std::string reset_token = issued.json()["reset_token"];
    CHECK(issued.json()["expires_at"].is_number());
    // Issuing changes nothing yet.
    CHECK(http.get(api("/me"), alice.token).status == 200);

    ws_client alice_ws(server.host(), server.port(), alice.token);
    check_error(http.post(api("/auth/reset"),
                          {{"reset_token", std::string(64, 'a')}, {"new_password", "fresh pass 1"}}),
                403, "forbidden");
    check_error(http.post(api("/auth/reset"), {{"reset_token", "nope"}, {"new_password", "x"}}),
                403, "forbidden");
    check_error(http.post(api("/auth/reset"), {{"reset_token", reset_token}, {"new_password", "x"}}),
                400, "invalid_argument");
    check_error(http.post(api("/auth/reset"), {{"new_password", "fresh pass 1"}}), 400,
                "invalid_argument");
    // The refusals above did not use the token up.
    CHECK(http.get(api("/me"), alice.token).status == 200);
    auto reset = http.post(api("/auth/reset"),
                           {{"reset_token", reset_token}, {"new_password", "fresh pass 1"}});
    REQUIRE(reset.status == 200);
    CHECK(reset.json()["user"]["user_id"] == alice.user_id);
    const std::string fresh = reset.json()["token"];
    CHECK(http.get(api("/me"), fresh).status == 200);
    check_error(http.get(api("/me"), alice.token), 401, "unauthenticated");
    CHECK(alice_ws.wait_closed(5s));
    CHECK(alice_ws.close_code() == 4001);
    // Once only.
    check_error(http.post(api("/auth/reset"),
                          {{"reset_token", reset_token}, {"new_password", "fresh pass 2"}}),
                403, "forbidden");
    check_error(http.post(api("/auth/login"), {{"username", alice.username}, {"password", password}}),
                401, "unauthenticated");
    CHECK_FALSE(login(http, alice.username, "fresh pass 1").empty());
}

TEST_CASE("deleting one's own account", "[integration][accounts][v11]") {
    const std::string root = unique_name("root");
    server_process server(v11_config(root));
    server.start();
    http_client http(server.host(), server.port());
    const account carol = register_user(http, unique_name("carol"));
    const account dave = register_user(http, unique_name("dave"));
    befriend(http, carol, dave);
    const std::string gid = create_group(http, carol, {dave});
    const std::string cid = "group:" + gid;
    REQUIRE(http.post(api("/conversations/" + cid + "/messages"),
                      {{"client_msg_id", "c1"}, {"body", {{"type", "text"}, {"text", "bye all"}}}},
                      carol.token)
                .status == 201);
    ws_client carol_ws(server.host(), server.port(), carol.token);

    check_error(delete_me(http, carol.token, {{"password", "wrong password"}}), 403, "forbidden");
    check_error(delete_me(http, carol.token, json::object()), 400, "invalid_argument");
    check_error(delete_me(http, "", {{"password", password}}), 401, "unauthenticated");
    // An owner first passes ownership on.
    check_error(delete_me(http, carol.token, {{"password", password}}), 409, "conflict");
    CHECK(http.get(api("/me"), carol.token).status == 200);
    REQUIRE(http.patch(api("/groups/" + gid + "/members/" + dave.user_id), {{"role", "owner"}},
                       carol.token)
                .status == 200);

    REQUIRE(delete_me(http, carol.token, {{"password", password}}).status == 204);
    CHECK(carol_ws.wait_closed(5s));
    CHECK(carol_ws.close_code() == 4001);
    check_error(http.get(api("/me"), carol.token), 401, "unauthenticated");
    auto gone = http.get(api("/users/" + carol.user_id), dave.token);
    REQUIRE(gone.status == 200);
    CHECK(gone.json()["user"]["deleted"] == true);
    CHECK(gone.json()["user"]["display_name"] == "Deleted user");
    // Friendships and memberships are gone; the messages stay.
    CHECK(http.get(api("/friends"), dave.token).json()["friends"].empty());
    CHECK(http.get(api("/groups/" + gid), dave.token).json()["group"]["member_count"] == 1);
    auto history = http.get(api("/conversations/" + cid + "/messages?after_seq=0"), dave.token);
    REQUIRE(history.status == 200);
    bool kept = false;
    const json messages = history.json()["messages"];
    for (const auto& m : messages) {
        kept = kept || (m["sender_id"] == carol.user_id && m["body"]["text"] == "bye all");
    }
    CHECK(kept);
    // The username is never given out again.
    check_error(http.post(api("/auth/register"),
                          {{"username", carol.username}, {"password", "another one 1"}}),
                409, "conflict");
    check_error(http.post(api("/auth/login"), {{"username", carol.username}, {"password", password}}),
                401, "unauthenticated");
}

TEST_CASE("registration modes, invites, admin-made accounts and guests off",
          "[integration][accounts][v11]") {
    const std::string root = unique_name("root");
    server_process server(v11_config(root));
    server.start();
    http_client http(server.host(), server.port());
    const account admin = register_user(http, root);
    const account early_guest = guest(http, "early");
    const auto settings = [&](const json& patch) {
        auto r = http.patch(api("/admin/settings"), patch, admin.token);
        INFO(r.body);
        REQUIRE(r.status == 200);
    };
    const auto registration = [&](const std::string& name, const std::optional<std::string>& code) {
        json body{{"username", name}, {"password", password}};
        if (code) {
            body["invite_code"] = *code;
        }
        return http.post(api("/auth/register"), body);
    };

    // ---- invite ----
    settings({{"auth.registration", "invite"}});
    check_error(registration(unique_name("ann"), std::nullopt), 403, "forbidden");
    check_error(registration(unique_name("ann"), std::string("not-a-code")), 403, "forbidden");
    check_error(http.post(api("/admin/invites"), json::object(), early_guest.token), 403,
                "forbidden");
    check_error(http.post(api("/admin/invites"), {{"uses", 0}}, admin.token), 400,
                "invalid_argument");
    check_error(http.post(api("/admin/invites"), {{"uses", "two"}}, admin.token), 400,
                "invalid_argument");
    check_error(http.post(api("/admin/invites"), {{"expires_in_s", 0}}, admin.token), 400,
                "invalid_argument");
    auto made = http.post(api("/admin/invites"), {{"uses", 2}}, admin.token);
    REQUIRE(made.status == 201);
    const std::string code = made.json()["invite"]["code"];
    CHECK(made.json()["invite"]["uses_left"] == 2);
    CHECK(made.json()["invite"]["expires_at"].is_null());
    CHECK(registration(unique_name("ann"), code).status == 201);
    // A refused registration (a taken name) keeps the use.
    check_error(registration(root, code), 409, "conflict");
    CHECK(registration(unique_name("ben"), code).status == 201);
    check_error(registration(unique_name("cat"), code), 403, "forbidden");  // used up
    auto listed = http.get(api("/admin/invites"), admin.token);
    REQUIRE(listed.status == 200);
    REQUIRE(listed.json()["invites"].size() == 1);
    CHECK(listed.json()["invites"][0]["uses_left"] == 0);

    auto short_lived = http.post(api("/admin/invites"), {{"expires_in_s", 1}}, admin.token);
    REQUIRE(short_lived.status == 201);
    CHECK(short_lived.json()["invite"]["expires_at"].is_number());
    const std::string expiring = short_lived.json()["invite"]["code"];
    std::this_thread::sleep_for(1100ms);
    check_error(registration(unique_name("dan"), expiring), 403, "forbidden");  // expired

    auto spare = http.post(api("/admin/invites"), json::object(), admin.token);
    REQUIRE(spare.status == 201);
    CHECK(spare.json()["invite"]["uses_left"] == 1);
    const std::string spare_code = spare.json()["invite"]["code"];
    CHECK(http.get(api("/admin/invites"), admin.token).json()["invites"].size() == 3);
    REQUIRE(http.del(api("/admin/invites/" + spare_code), admin.token).status == 204);
    check_error(http.del(api("/admin/invites/" + spare_code), admin.token), 404, "not_found");
    check_error(registration(unique_name("eve"), spare_code), 403, "forbidden");

    // ---- closed; admins make accounts ----
    settings({{"auth.registration", "closed"}});
    auto more = http.post(api("/admin/invites"), json::object(), admin.token);
    REQUIRE(more.status == 201);
    check_error(registration(unique_name("fay"), std::string(more.json()["invite"]["code"])), 403,
                "forbidden");
    const std::string gil = unique_name("gil");
    check_error(http.post(api("/admin/users"), {{"username", gil}, {"password", password}},
                          early_guest.token),
                403, "forbidden");
    check_error(http.post(api("/admin/users"), {{"username", gil}, {"password", "short"}},
                          admin.token),
                400, "invalid_argument");
    check_error(http.post(api("/admin/users"), {{"username", "No Way"}, {"password", password}},
                          admin.token),
                400, "invalid_argument");
    auto created = http.post(api("/admin/users"),
                             {{"username", gil}, {"password", password}, {"display_name", "Gil"}},
                             admin.token);
    REQUIRE(created.status == 201);
    CHECK(created.json()["user"]["username"] == gil);
    CHECK(created.json()["user"]["display_name"] == "Gil");
    check_error(http.post(api("/admin/users"), {{"username", gil}, {"password", password}},
                          admin.token),
                409, "conflict");
    CHECK_FALSE(login(http, gil, password).empty());

    // ---- guests off: new guests refused, existing ones keep working ----
    settings({{"auth.guests", false}});
    check_error(http.post(api("/auth/guest"), json::object()), 403, "forbidden");
    CHECK(http.get(api("/me"), early_guest.token).status == 200);
    settings({{"auth.guests", true}, {"auth.registration", "open"}});
    CHECK(http.post(api("/auth/guest"), json::object()).status == 201);
    CHECK(registration(unique_name("hal"), std::nullopt).status == 201);
}

TEST_CASE("the offline user commands work on a data directory a running server holds",
          "[integration][accounts][v11]") {
    // The durable engine: the memory engine keeps no accounts for the commands to change.
    server_process server(fast_test_config());
    server.start();
    http_client http(server.host(), server.port());
    const account alice = register_user(http, unique_name("alice"));
    const std::string config = server.config_path();

    auto reset = run_monochat({"user", "reset-password", alice.username, "--config", config});
    INFO(reset.output);
    REQUIRE(reset.exit.exited);
    REQUIRE(reset.exit.code == 0);
    std::smatch found;
    REQUIRE(std::regex_search(reset.output, found, std::regex("(^|\n)([0-9a-f]{64})\n")));
    const std::string token = found[2];
    auto used = http.post(api("/auth/reset"), {{"reset_token", token}, {"new_password", "offline 123"}});
    INFO(used.body);
    REQUIRE(used.status == 200);
    check_error(http.get(api("/me"), alice.token), 401, "unauthenticated");
    CHECK_FALSE(login(http, alice.username, "offline 123").empty());

    auto unknown = run_monochat({"user", "reset-password", "nobody-here", "--config", config});
    CHECK(unknown.exit.code == 1);

    const std::string ops = unique_name("ops");
    auto added = run_monochat_with_input({"user", "add", ops, "--config", config},
                                         "operator pass 1\n");
    INFO(added.output);
    REQUIRE(added.exit.code == 0);
    CHECK_FALSE(login(http, ops, "operator pass 1").empty());
    auto again = run_monochat_with_input({"user", "add", ops, "--config", config},
                                         "operator pass 1\n");
    CHECK(again.exit.code == 1);
    auto weak = run_monochat_with_input({"user", "add", unique_name("weak"), "--config", config},
                                        "short\n");
    CHECK(weak.exit.code == 1);
}
