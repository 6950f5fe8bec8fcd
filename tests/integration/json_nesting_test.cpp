// Issue 17, critical: one guest request nested 75,000 levels deep (about 150 KB) crashed the
// server with SIGSEGV (dump() recursing once per level), and PATCH /admin/settings did the same
// through the config code. Nesting past 64 levels is invalid_argument on every input, HTTP and
// WebSocket alike, and the server keeps serving.

#include <catch2/catch.hpp>
#include <string>

#include "integration/rest_test_support.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using json = nlohmann::json;

namespace {

// `levels` arrays, each holding the next, inside a JSON text.
std::string brackets(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

// The body of a world message whose `body` nests `levels` more levels (the request object is
// level 1, its `body` object level 2).
std::string world_send(std::size_t levels) {
    return R"({"client_msg_id":"deep","body":{"type":"text","text":"hi","x":)" + brackets(levels) +
           "}}";
}

// 300 KB bodies are over the default body limit; the nesting check is what is tested here.
json nesting_config() { return rest_test_config({{"server", {{"max_body_bytes", 1 << 20}}}}); }

}  // namespace

TEST_CASE("a guest's 75,000-level message body is refused and the server stays up",
          "[integration][json_nesting]") {
    server_process server(nesting_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto g = guest(http);

    const auto deep = http.request("POST", api("/conversations/world/messages"), world_send(75'000), g.token);
    check_error(deep, 400, "invalid_argument");
    CHECK_THAT(deep.body, Catch::Contains("deeper than 64"));

    // 65 levels in all (request 1, body 2, 63 arrays) is one too many; 64 is not refused for depth.
    const auto over = http.request("POST", api("/conversations/world/messages"), world_send(63), g.token);
    check_error(over, 400, "invalid_argument");
    CHECK_THAT(over.body, Catch::Contains("deeper than 64"));
    const auto at = http.request("POST", api("/conversations/world/messages"), world_send(62), g.token);
    CHECK_THAT(at.body, !Catch::Contains("deeper than 64"));

    CHECK(http.get("/healthz").status == 200);
    const auto ok = http.post(api("/conversations/world/messages"),
                              {{"client_msg_id", "fine"}, {"body", {{"type", "text"}, {"text", "still here"}}}},
                              g.token);
    CHECK(ok.status == 201);
}

TEST_CASE("deep nesting is refused on routes that read a JSON body", "[integration][json_nesting]") {
    server_process server(nesting_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto alice = register_user(http, unique_name("alice"));
    const std::string deep = R"({"username":"mallory","password":"password-1","x":)" + brackets(75'000) + "}";
    check_error(http.request("POST", api("/auth/register"), deep, ""), 400, "invalid_argument");
    check_error(http.request("POST", api("/friends/requests"), deep, alice.token), 400, "invalid_argument");
    check_error(http.request("POST", api("/groups"), deep, alice.token), 400, "invalid_argument");
    CHECK(http.get("/healthz").status == 200);
}

TEST_CASE("an admin's deeply nested settings patch is refused, not a crash",
          "[integration][json_nesting]") {
    json cfg = nesting_config();
    cfg["auth"]["admins"] = json::array({"root"});
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    const auto admin = register_user(http, "root");
    const std::string deep = R"({"limits":)" + brackets(75'000) + "}";
    const auto r = http.request("PATCH", api("/admin/settings"), deep, admin.token);
    check_error(r, 400, "invalid_argument");
    CHECK(http.get("/healthz").status == 200);
    // The settings are unchanged and still answer.
    CHECK(http.get(api("/admin/settings"), admin.token).status == 200);
}

TEST_CASE("a deeply nested WebSocket frame gets an error frame and the connection lives on",
          "[integration][json_nesting]") {
    server_process server(nesting_config());
    server.start();
    http_client http(server.host(), server.port());
    const auto g = guest(http);
    ws_client ws(server.host(), server.port(), g.token);

    // 30,000 levels: 60 KB, inside the frame limit (64 KiB).
    ws.send_text(R"({"type":"send","id":"d1","conversation_id":"world","client_msg_id":"d1","body":)" +
                 brackets(30'000) + "}");
    auto err = ws.expect("error");
    CHECK(err["code"] == "invalid_argument");
    CHECK_THAT(err["message"].get<std::string>(), Catch::Contains("deeper than 64"));

    ws.send_text(R"({"type":"send","id":"d2","conversation_id":"world","client_msg_id":"d2","body":{"type":"text","text":"x","y":)" +
                 brackets(63) + "}}");
    CHECK(ws.expect("error")["code"] == "invalid_argument");

    ws.send({{"type", "ping"}, {"id", "p"}});
    CHECK(ws.expect("pong")["id"] == "p");
}
