// Hostile and broken input to every route of issue 4: malformed JSON, wrong types, missing
// fields, oversize bodies, very long strings, ids that are not numbers, unknown routes. Every
// answer is the protocol's error shape with the right status, never a 500, and the server keeps
// serving.

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "integration/rest_test_support.hpp"

using namespace monochat::test;

namespace {

using json = nlohmann::json;

constexpr int max_body = 64 * 1024;

// A field of a route's body and a value of the wrong type for it.
struct field {
    std::string name;
    bool required;
    json wrong;  // a value of another type
};

struct route {
    std::string method;
    std::string path;  // with valid ids filled in
    bool authenticated;
    std::vector<field> fields;  // empty: the route reads no body
    json valid;                 // a valid body, the base of the variations
};

// Every reply is either a success or the protocol's error shape, and never a server error.
void check_reply(const http_reply& r, const std::string& what) {
    INFO(what << " -> " << r.status << " " << r.body.substr(0, 300));
    CHECK(r.status < 500);
    if (r.status >= 400) {
        const auto j = json::parse(r.body, nullptr, false);
        REQUIRE(j.is_object());
        CHECK(j["error"]["code"].is_string());
        CHECK(j["error"]["message"].is_string());
    }
}

void check_status(const http_reply& r, int status, const std::string& code,
                  const std::string& what) {
    INFO(what);
    check_reply(r, what);
    CHECK(r.status == status);
    const auto j = json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error")) {
        CHECK(j["error"]["code"] == code);
    }
}

struct fixture {
    server_process server{rest_test_config({{"server", {{"max_body_bytes", max_body}}}})};
    std::unique_ptr<http_client> http;
    account alice;
    account bob;
    std::string group;
    std::string request;
    std::vector<route> routes;

    fixture() {
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
        alice = register_user(*http, "alice");
        bob = register_user(*http, "bob");
        // Bob joins the public group himself: adding him would need a friendship, and the
        // friend request below must still be pending.
        group = create_group(*http, alice, {}, true);
        REQUIRE(http->post(api("/groups/" + group + "/join"), bob.token).status == 200);
        request = http->post(api("/friends/requests"), {{"user_id", bob.user_id}}, alice.token)
                      .json()["request"]["request_id"];
        const std::string g = api("/groups/" + group);
        routes = {
            {"POST", api("/auth/register"), false,
             {{"username", true, 1}, {"password", true, json::array()}, {"display_name", false, 2}},
             {{"username", "carol"}, {"password", "password-1"}}},
            {"POST", api("/auth/login"), false,
             {{"username", true, true}, {"password", true, 3}},
             {{"username", "alice"}, {"password", "correct horse battery"}}},
            {"POST", api("/auth/guest"), false, {{"display_name", false, json::object()}},
             {{"display_name", "visitor"}}},
            {"GET", api("/me"), true, {}, nullptr},
            {"GET", api("/users/" + bob.user_id), true, {}, nullptr},
            {"GET", api("/users?q=a"), true, {}, nullptr},
            {"POST", api("/friends/requests"), true,
             {{"user_id", true, 5}, {"note", false, 7}},
             {{"user_id", bob.user_id}, {"note", "hi"}}},
            {"GET", api("/friends/requests"), true, {}, nullptr},
            {"POST", api("/friends/requests/" + request + "/reject"), true, {}, nullptr},
            {"POST", api("/friends/requests/" + request + "/accept"), true, {}, nullptr},
            {"GET", api("/friends"), true, {}, nullptr},
            {"DELETE", api("/friends/" + bob.user_id), true, {}, nullptr},
            {"POST", api("/groups"), true,
             {{"name", true, 9}, {"member_ids", false, "nope"}, {"public", false, "yes"}},
             {{"name", "team"}, {"member_ids", {bob.user_id}}, {"public", true}}},
            {"GET", g, true, {}, nullptr},
            {"GET", g + "/members", true, {}, nullptr},
            {"POST", g + "/members", true, {{"user_ids", true, json::object()}},
             {{"user_ids", {bob.user_id}}}},
            {"PATCH", g + "/members/" + bob.user_id, true, {{"role", true, false}},
             {{"role", "member"}}},
            {"POST", g + "/join", true, {}, nullptr},
            {"DELETE", g + "/members/" + bob.user_id, true, {}, nullptr},
            {"GET", api("/conversations"), true, {}, nullptr},
            {"POST", api("/conversations/dm"), true, {{"user_id", true, 12}},
             {{"user_id", bob.user_id}}},
            {"POST", api("/conversations/group:" + group + "/read"), true, {{"seq", true, "1"}},
             {{"seq", 1}}},
        };
    }

    http_reply send(const route& r, const std::optional<std::string>& body) {
        return http->request(r.method, r.path, body, r.authenticated ? alice.token : "");
    }
};

const std::vector<std::string> malformed_bodies = {
    "",
    "{",
    "{\"username\": ",
    "not json",
    "[]",
    "[1, 2]",
    "null",
    "42",
    "\"a string\"",
    "true",
    "{\"a\": 1,}",
    "{'single': 'quotes'}",
    "{\"bad utf8\": \"\xff\xfe\"}",
    "\xef\xbb\xbf{}",  // a byte-order mark
    std::string(10000, '[') + std::string(10000, ']'),
    std::string("{\"nul\": \"a\0b\"}", 15),
};

}  // namespace

TEST_CASE("malformed JSON bodies get 400 on every route that reads a body",
          "[integration][bad_input]") {
    fixture f;
    for (const auto& r : f.routes) {
        for (const auto& body : malformed_bodies) {
            const std::string what = r.method + " " + r.path + " body=" + body.substr(0, 40);
            const auto reply = f.send(r, body);
            if (r.fields.empty()) {
                check_reply(reply, what);  // the body is ignored
                continue;
            }
            const bool empty_is_object = r.path == api("/auth/guest");
            if (empty_is_object && body.empty()) {
                CHECK(reply.status == 201);
                continue;
            }
            // A JSON object that parses (the BOM and NUL cases may or may not): not a 500.
            const auto parsed = json::parse(body, nullptr, false);
            if (!parsed.is_discarded() && parsed.is_object()) {
                check_reply(reply, what);
                continue;
            }
            check_status(reply, 400, "invalid_argument", what);
        }
    }
    CHECK(f.http->get("/healthz").status == 200);
}

TEST_CASE("wrong types and missing fields get 400 naming the field", "[integration][bad_input]") {
    fixture f;
    for (const auto& r : f.routes) {
        for (const auto& fld : r.fields) {
            json wrong = r.valid;
            wrong[fld.name] = fld.wrong;
            const std::string what = r.method + " " + r.path + " " + wrong.dump();
            const auto reply = f.send(r, wrong.dump());
            check_status(reply, 400, "invalid_argument", what);
            CHECK(reply.json()["error"]["message"].get<std::string>().find(fld.name) !=
                  std::string::npos);
            if (fld.required) {
                json missing = r.valid;
                missing.erase(fld.name);
                const auto m = f.send(r, missing.dump());
                check_status(m, 400, "invalid_argument", r.path + " without " + fld.name);
                CHECK(m.json()["error"]["message"].get<std::string>().find(fld.name) !=
                      std::string::npos);
            }
        }
        // Unknown fields are ignored: the valid body with extras is not a 400 for them.
        if (!r.fields.empty() && r.path.find("/auth/") == std::string::npos) {
            json extra = r.valid;
            extra["unexpected"] = {{"nested", true}};
            check_reply(f.send(r, extra.dump()), r.path + " with an unknown field");
        }
    }
    // Ids in bodies must be decimal strings.
    const auto& friends = f.routes[6];
    for (const json& bad : {json("abc"), json("-1"), json("1.5"), json(""), json("0x10"),
                           json("18446744073709551616"), json("007")}) {
        check_status(f.send(friends, json{{"user_id", bad}}.dump()), 400, "invalid_argument",
                     "user_id " + bad.dump());
    }
    check_status(f.send(f.routes[12], json{{"name", "x"}, {"member_ids", {"1", 2}}}.dump()), 400,
                 "invalid_argument", "member_ids with a number");
    CHECK(f.http->get(api("/me"), f.alice.token).status == 200);
}

TEST_CASE("bodies over the limit get 413 and very long strings get 400",
          "[integration][bad_input]") {
    fixture f;
    const std::string huge(max_body + 1024, 'x');
    const std::string long_text(max_body / 2, 'y');
    for (const auto& r : f.routes) {
        if (r.fields.empty()) {
            continue;
        }
        const std::string what = r.method + " " + r.path;
        check_status(f.send(r, json{{"pad", huge}}.dump()), 413, "too_large", what + " oversize");
        for (const auto& fld : r.fields) {
            json body = r.valid;
            body[fld.name] = long_text;
            const auto reply = f.send(r, body.dump());
            check_reply(reply, what + " long " + fld.name);
            CHECK(reply.status >= 400);
        }
    }
    const std::string path_id(5000, '7');
    check_status(f.http->get(api("/users/" + path_id), f.alice.token), 400, "invalid_argument",
                 "a 5000-digit id");
    check_status(f.http->get(api("/users?q=" + std::string(5000, 'a')), f.alice.token), 200, "",
                 "a 5000-byte search");
    CHECK(f.http->get("/healthz").status == 200);
}

TEST_CASE("ids that are not numbers get 400, unknown routes 404, wrong methods 405",
          "[integration][bad_input]") {
    fixture f;
    const std::string t = f.alice.token;
    const std::vector<std::string> bad_ids = {"abc", "-1", "1.5", "18446744073709551616", "0x1F",
                                              "%41", "1e5", "00012", "%00"};
    for (const auto& id : bad_ids) {
        const auto g = api("/groups/" + f.group);
        for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
                 {"GET", api("/users/" + id)},
                 {"DELETE", api("/friends/" + id)},
                 {"POST", api("/friends/requests/" + id + "/accept")},
                 {"POST", api("/friends/requests/" + id + "/reject")},
                 {"GET", api("/groups/" + id)},
                 {"GET", api("/groups/" + id + "/members")},
                 {"POST", api("/groups/" + id + "/join")},
                 {"DELETE", g + "/members/" + id},
                 {"DELETE", api("/groups/" + id + "/members/" + f.bob.user_id)},
             }) {
            check_status(f.http->request(method, path, std::nullopt, t), 400, "invalid_argument",
                         method + " " + path);
        }
        check_status(f.http->request("PATCH", g + "/members/" + id, json{{"role", "admin"}}.dump(), t),
                     400, "invalid_argument", "PATCH member " + id);
        check_status(f.http->request("POST", g + "/members", json{{"user_ids", {id}}}.dump(), t), 400,
                     "invalid_argument", "add member " + id);
        check_status(f.http->get(g + "/members?after=" + id, t), 400, "invalid_argument",
                     "after=" + id);
    }
    for (const std::string cid : {"nowhere", "group:abc", "group:", "dm:1", "dm:2:1", "dm:1:1",
                                  "dm:a:b", "GROUP:1", "world2"}) {
        check_status(f.http->request("POST", api("/conversations/" + cid + "/read"),
                                     json{{"seq", 1}}.dump(), t),
                     400, "invalid_argument", "read " + cid);
    }
    for (const std::string path : {"/api/v1/nope", "/api/v1/users/1/extra",
                                   "/api/v1/groups/1/members/2/3", "/api/v1/friends/requests/1",
                                   "/api/v1/auth", "/api/v1/auth/nope", "/api/v2/me"}) {
        check_status(f.http->get(path, t), 404, "not_found", path);
    }
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"PUT", api("/groups")},
             {"GET", api("/auth/login")},
             {"PUT", api("/me")},  // contract v1.1 made DELETE /me a route
             {"GET", api("/conversations/dm")},
             {"PATCH", api("/friends")},
         }) {
        const auto r = f.http->request(method, path, std::nullopt, t);
        check_status(r, 405, "method_not_allowed", method + " " + path);
        CHECK_FALSE(r.header("allow").empty());
    }
    CHECK(f.http->get(api("/me"), t).status == 200);
}

TEST_CASE("every authenticated route refuses a missing or bad token with 401",
          "[integration][bad_input]") {
    fixture f;
    for (const auto& r : f.routes) {
        if (!r.authenticated) {
            continue;
        }
        const auto body = r.valid.is_null() ? std::optional<std::string>() : r.valid.dump();
        for (const std::string& token : {std::string(), std::string("garbage"),
                                        std::string(64, 'f'), std::string(64, 'F'),
                                        std::string(5000, 'a')}) {
            check_status(f.http->request(r.method, r.path, body, token), 401, "unauthenticated",
                         r.method + " " + r.path + " token=" + token.substr(0, 10));
        }
        check_status(f.http->request(r.method, r.path, body, {}, {{"Authorization", "Basic abc"}}),
                     401, "unauthenticated", r.path + " with Basic auth");
    }
    // Logout with a bad token, and twice with a good one.
    const auto carol = register_user(*f.http, "carol");
    CHECK(f.http->post(api("/auth/logout"), carol.token).status == 204);
    check_status(f.http->post(api("/auth/logout"), carol.token), 401, "unauthenticated",
                 "logout twice");
    CHECK(f.http->get(api("/me"), f.alice.token).status == 200);
    CHECK(f.server.log().find("handler threw") == std::string::npos);
}
