// The admin API, the audit log, message traces and --version (issue 11), against the real
// binary. Each server names its admin in auth.admins (there is no first-user admin).

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "support/api.hpp"
#include "support/http_client.hpp"
#include "support/server_process.hpp"
#include "support/ws_client.hpp"

using namespace monochat::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json with_admin(json cfg, const std::string& username) {
    cfg["auth"]["admins"] = json::array({username});
    return cfg;
}

struct admin_fixture {
    std::string root_name_ = unique_name("root");
    server_process server;
    std::unique_ptr<http_client> http;
    account admin;
    account alice;
    account bob;

    explicit admin_fixture(json cfg = fast_test_config())
        : server(with_admin(std::move(cfg), root_name_)) {
        server.start();
        http = std::make_unique<http_client>(server.host(), server.port());
        admin = register_user(*http, root_name_);
        alice = register_user(*http, unique_name("alice"));
        bob = register_user(*http, unique_name("bob"));
    }

    std::vector<json> audit_lines() const {
        std::vector<json> out;
        std::ifstream in(std::filesystem::path(server.data_dir()) / "audit.log");
        std::string line;
        while (std::getline(in, line)) {
            out.push_back(json::parse(line));
        }
        return out;
    }
};

// Every admin route with a method, a path and a body that would be valid for an admin.
struct route {
    std::string method;
    std::string path;
    std::optional<std::string> body;
};

std::vector<route> admin_routes(const std::string& user_id) {
    return {
        {"GET", "/api/v1/admin/stats", std::nullopt},
        {"GET", "/api/v1/admin/users", std::nullopt},
        {"POST", "/api/v1/admin/users/" + user_id + "/disconnect", std::nullopt},
        {"POST", "/api/v1/admin/users/" + user_id + "/suspend", std::nullopt},
        {"DELETE", "/api/v1/admin/users/" + user_id + "/suspend", std::nullopt},
        {"DELETE", "/api/v1/admin/users/" + user_id, std::nullopt},
        {"DELETE", "/api/v1/admin/conversations/world/messages/1", std::nullopt},
        {"GET", "/api/v1/admin/settings", std::nullopt},
        {"PATCH", "/api/v1/admin/settings", std::string(R"({"limits":{"send_rate":1}})")},
        {"POST", "/api/v1/admin/reload", std::nullopt},
        {"POST", "/api/v1/admin/backup", std::nullopt},
        {"GET", "/api/v1/admin/messages/1/trace", std::nullopt},
    };
}

}  // namespace

TEST_CASE("a non-admin gets 403 and an unauthenticated caller 401 from every admin route",
          "[integration][admin]") {
    admin_fixture t;
    for (const auto& r : admin_routes(t.bob.user_id)) {
        INFO(r.method << " " << r.path);
        CHECK(t.http->request(r.method, r.path, r.body, t.alice.token).status == 403);
        CHECK(t.http->request(r.method, r.path, r.body).status == 401);
        CHECK(t.http->request(r.method, r.path, r.body, "not-a-token").status == 401);
    }
    // Nothing happened to bob.
    CHECK(t.http->get("/api/v1/me", t.bob.token).status == 200);
    // A guest is never an admin.
    auto g = guest(*t.http);
    CHECK(t.http->get("/api/v1/admin/stats", g.token).status == 403);
    // The admin gets through.
    CHECK(t.http->get("/api/v1/admin/stats", t.admin.token).status == 200);
}

TEST_CASE("the users named in auth.admins are the admins", "[integration][admin]") {
    auto cfg = fast_test_config();
    cfg["auth"]["admins"] = json::array({"ops-a", "ops-b"});
    server_process server(cfg);
    server.start();
    http_client http(server.host(), server.port());
    auto first = register_user(http, unique_name("first"));
    auto ops = register_user(http, "ops-b");
    auto other = register_user(http, unique_name("other"));
    CHECK(http.get("/api/v1/admin/stats", first.token).status == 403);
    CHECK(http.get("/api/v1/admin/stats", ops.token).status == 200);
    CHECK(http.get("/api/v1/admin/stats", other.token).status == 403);
    auto users = http.get("/api/v1/admin/users", ops.token);
    REQUIRE(users.status == 200);
    const auto listed = users.json();
    std::map<std::string, bool> admin_of;
    for (const auto& u : listed["users"]) {
        admin_of[u["username"].get<std::string>()] = u["admin"].get<bool>();
    }
    CHECK_FALSE(admin_of.at(first.username));
    CHECK(admin_of.at("ops-b"));
    CHECK_FALSE(admin_of.at(other.username));
}

TEST_CASE("stats, users and live settings for an admin, each action in the audit log",
          "[integration][admin]") {
    admin_fixture t;
    auto stats = t.http->get("/api/v1/admin/stats", t.admin.token);
    REQUIRE(stats.status == 200);
    CHECK(stats.json()["version"].is_string());
    CHECK(stats.json()["websocket_connections"] == 0);
    CHECK(stats.json()["config"]["reloads"] == 0);

    auto users = t.http->get("/api/v1/admin/users?limit=2", t.admin.token);
    REQUIRE(users.status == 200);
    REQUIRE(users.json()["users"].size() == 2);
    CHECK(users.json()["users"][0]["user_id"] == t.admin.user_id);
    CHECK(users.json()["users"][0]["admin"] == true);
    const auto next = users.json()["next"].get<std::string>();
    auto rest = t.http->get("/api/v1/admin/users?after=" + next, t.admin.token);
    REQUIRE(rest.status == 200);
    REQUIRE(rest.json()["users"].size() == 1);
    CHECK(rest.json()["users"][0]["user_id"] == t.bob.user_id);
    CHECK(t.http->get("/api/v1/admin/users?limit=0", t.admin.token).status == 400);

    auto settings = t.http->get("/api/v1/admin/settings", t.admin.token);
    REQUIRE(settings.status == 200);
    CHECK(settings.json()["live"]["limits"]["send_burst"] == 100000);
    CHECK_FALSE(settings.json()["live"].contains("storage"));

    auto changed = t.http->patch("/api/v1/admin/settings",
                                 {{"limits", {{"send_burst", 7}}}, {"log.level", "debug"}},
                                 t.admin.token);
    REQUIRE(changed.status == 200);
    CHECK(changed.json()["applied"] == json::array({"limits.send_burst", "log.level"}));
    CHECK(t.http->get("/api/v1/admin/settings", t.admin.token)
              .json()["live"]["limits"]["send_burst"] == 7);

    auto bad = t.http->patch("/api/v1/admin/settings", {{"limits", {{"send_burst", 0}}}},
                             t.admin.token);
    CHECK(bad.status == 400);
    CHECK(bad.json()["error"]["message"].get<std::string>().find("limits.send_burst") !=
          std::string::npos);
    auto fixed = t.http->patch("/api/v1/admin/settings", {{"server", {{"port", 1}}}},
                               t.admin.token);
    CHECK(fixed.status == 400);
    CHECK(t.http->get("/api/v1/admin/settings", t.admin.token)
              .json()["live"]["limits"]["send_burst"] == 7);

    // Reload from the file: the file never had send_burst 7, so it goes back to the file's.
    auto reloaded = t.http->post("/api/v1/admin/reload", t.admin.token);
    REQUIRE(reloaded.status == 200);
    CHECK(t.http->get("/api/v1/admin/settings", t.admin.token)
              .json()["live"]["limits"]["send_burst"] == 100000);

    const auto lines = t.audit_lines();
    std::vector<std::string> actions;
    for (const auto& l : lines) {
        CHECK(l["actor"] == std::stoull(t.admin.user_id));
        CHECK(l["ts"].is_number());
        CHECK(l["trace"].is_string());
        actions.push_back(l["action"].get<std::string>());
    }
    // (limit=0 is refused before the backend: not an admin action.)
    CHECK(actions == std::vector<std::string>{"stats", "list_users", "list_users",
                                              "read_settings", "change_settings", "read_settings",
                                              "change_settings", "change_settings",
                                              "read_settings", "reload", "read_settings"});
    REQUIRE(lines.size() >= 8);
    CHECK(lines[4]["outcome"] == "ok");
    CHECK(lines[4]["detail"]["limits"]["send_burst"] == 7);
    CHECK(lines[6]["outcome"] == "invalid_argument");
    CHECK(lines[6]["detail"]["error"].get<std::string>().find("limits.send_burst") !=
          std::string::npos);
    CHECK(t.server.log().find("module=audit") != std::string::npos);
}

TEST_CASE("a suspended user's connections close and their token stops working",
          "[integration][admin]") {
    admin_fixture t;
    ws_client bob_ws(t.server.host(), t.server.port(), t.bob.token);
    ws_client bob_ws2(t.server.host(), t.server.port(), t.bob.token);
    ws_client alice_ws(t.server.host(), t.server.port(), t.alice.token);

    auto s = t.http->post("/api/v1/admin/users/" + t.bob.user_id + "/suspend", t.admin.token);
    REQUIRE(s.status == 200);
    CHECK(bob_ws.wait_closed(5s));
    CHECK(bob_ws.close_code() == 4003);
    CHECK(bob_ws2.wait_closed(5s));
    CHECK(t.http->get("/api/v1/me", t.bob.token).status == 401);
    CHECK(ws_client::handshake_status(t.server.host(), t.server.port(), "/api/v1/ws",
                                      "Bearer " + t.bob.token) == 401);
    auto login = t.http->post("/api/v1/auth/login",
                              {{"username", t.bob.username}, {"password", "correct horse battery"}});
    CHECK(login.status == 403);
    // Others are untouched.
    CHECK_FALSE(alice_ws.wait_closed(100ms));
    CHECK(t.http->get("/api/v1/me", t.alice.token).status == 200);

    auto listed = t.http->get("/api/v1/admin/users?after=" + t.alice.user_id, t.admin.token);
    REQUIRE(listed.status == 200);
    CHECK(listed.json()["users"][0]["suspended"] == true);

    // Lifting it lets bob log in again (the old token stays revoked).
    REQUIRE(t.http->del("/api/v1/admin/users/" + t.bob.user_id + "/suspend", t.admin.token).status ==
            200);
    CHECK(t.http->get("/api/v1/me", t.bob.token).status == 401);
    login = t.http->post("/api/v1/auth/login",
                         {{"username", t.bob.username}, {"password", "correct horse battery"}});
    REQUIRE(login.status == 200);
    CHECK(t.http->get("/api/v1/me", login.json()["token"].get<std::string>()).status == 200);

    // An admin cannot suspend themself, and an unknown user is 404.
    CHECK(t.http->post("/api/v1/admin/users/" + t.admin.user_id + "/suspend", t.admin.token).status ==
          400);
    CHECK(t.http->post("/api/v1/admin/users/12345/suspend", t.admin.token).status == 404);
    const auto lines = t.audit_lines();
    REQUIRE(lines.size() >= 4);
    CHECK(lines[0]["action"] == "suspend_user");
    CHECK(lines[0]["target"] == t.bob.user_id);
}

TEST_CASE("disconnect closes a user's sessions and delete removes the user",
          "[integration][admin]") {
    admin_fixture t;
    ws_client bob_ws(t.server.host(), t.server.port(), t.bob.token);
    REQUIRE(t.http->post("/api/v1/admin/users/" + t.bob.user_id + "/disconnect", t.admin.token)
                .status == 200);
    CHECK(bob_ws.wait_closed(5s));
    CHECK(bob_ws.close_code() == 4003);
    CHECK(t.http->get("/api/v1/me", t.bob.token).status == 200);  // only disconnected

    // A group owner cannot be deleted before ownership passes on.
    create_group(*t.http, t.alice, {t.bob});
    CHECK(t.http->del("/api/v1/admin/users/" + t.alice.user_id, t.admin.token).status == 409);
    REQUIRE(t.http->del("/api/v1/admin/users/" + t.bob.user_id, t.admin.token).status == 200);
    CHECK(t.http->get("/api/v1/me", t.bob.token).status == 401);
    CHECK(t.http->get("/api/v1/users/" + t.bob.user_id, t.alice.token).status == 404);
    CHECK(t.http->del("/api/v1/admin/users/" + t.bob.user_id, t.admin.token).status == 404);
}

TEST_CASE("an admin deletes a message for everyone through the log", "[integration][admin]") {
    admin_fixture t;
    const auto cid = "group:" + create_group(*t.http, t.alice, {t.bob});
    auto sent = t.http->post("/api/v1/conversations/" + cid + "/messages",
                             {{"client_msg_id", "m1"}, {"body", {{"type", "text"}, {"text", "spam"}}}},
                             t.bob.token);
    REQUIRE(sent.status == 201);
    const auto seq = sent.json()["message"]["seq"].get<std::uint64_t>();
    ws_client alice_ws(t.server.host(), t.server.port(), t.alice.token);

    auto del = t.http->del("/api/v1/admin/conversations/" + cid + "/messages/" + std::to_string(seq),
                           t.admin.token);
    REQUIRE(del.status == 200);
    CHECK(del.json()["recall_seq"] == seq + 1);
    // Members see the recall live (after the original's push, which may still be on its way
    // to the new connection) and in history.
    auto pushed = alice_ws.expect("message");
    if (pushed["message"]["seq"] == seq) {
        pushed = alice_ws.expect("message");
    }
    CHECK(pushed["message"]["body"]["type"] == "recall");
    auto history = t.http->get("/api/v1/conversations/" + cid + "/messages?after_seq=0", t.alice.token);
    REQUIRE(history.status == 200);
    CHECK(history.json()["messages"][0]["recalled"] == true);
    CHECK(t.http->del("/api/v1/admin/conversations/" + cid + "/messages/999", t.admin.token).status ==
          404);
}

TEST_CASE("only sampled messages are traced", "[integration][admin][trace]") {
    auto cfg = fast_test_config();
    cfg["trace"] = {{"sample_every", 1000000}};
    admin_fixture t(cfg);
    const auto cid = dm_id(t.alice, t.bob);
    befriend(*t.http, t.alice, t.bob);
    for (int i = 0; i < 20; ++i) {
        auto sent = t.http->post("/api/v1/conversations/" + cid + "/messages",
                                 {{"client_msg_id", "s" + std::to_string(i)},
                                  {"body", {{"type", "text"}, {"text", "not traced"}}}},
                                 t.alice.token);
        REQUIRE(sent.status == 201);
        const auto id = sent.json()["message"]["message_id"].get<std::string>();
        // One in a million: these 20 are not (the odds of a false failure are 1 in 50,000).
        CHECK(t.http->get("/api/v1/admin/messages/" + id + "/trace", t.admin.token).status == 404);
    }
    // Live: every message from the next send on.
    auto r = t.http->patch("/api/v1/admin/settings", {{"trace", {{"sample_every", 1}}}}, t.admin.token);
    REQUIRE(r.status == 200);
    CHECK(r.json()["applied"] == json::array({"trace.sample_every"}));
    auto sent = t.http->post("/api/v1/conversations/" + cid + "/messages",
                             {{"client_msg_id", "traced"}, {"body", {{"type", "text"}, {"text", "traced"}}}},
                             t.alice.token);
    REQUIRE(sent.status == 201);
    const auto id = sent.json()["message"]["message_id"].get<std::string>();
    CHECK(t.http->get("/api/v1/admin/messages/" + id + "/trace", t.admin.token).status == 200);
}

TEST_CASE("the trace of a message sent to a group shows every stage", "[integration][admin][trace]") {
    // One small group (direct hand-off to gateway) and, with a threshold of 2, a large one
    // (task fan-out workers).
    auto cfg = fast_test_config();
    cfg["fanout"] = {{"large_group_threshold", 3}, {"shard_size", 2}};
    cfg["trace"] = {{"sample_every", 1}};  // these messages must all be traced
    admin_fixture t(cfg);
    auto carol = register_user(*t.http, unique_name("carol"));
    for (const bool large : {false, true}) {
        std::vector<account> members{t.bob};
        if (large) {
            members.push_back(carol);
            members.push_back(t.admin);
        }
        const auto cid = "group:" + create_group(*t.http, t.alice, members);
        ws_client bob1(t.server.host(), t.server.port(), t.bob.token);
        ws_client bob2(t.server.host(), t.server.port(), t.bob.token);
        auto sent = t.http->request("POST", "/api/v1/conversations/" + cid + "/messages",
                                    json{{"client_msg_id", large ? "big" : "small"},
                                         {"body", {{"type", "text"}, {"text", "where am I"}}}}
                                        .dump(),
                                    t.alice.token, {{"X-Request-Id", large ? "trace-big" : "trace-small"}});
        REQUIRE(sent.status == 201);
        const auto id = sent.json()["message"]["message_id"].get<std::string>();
        const auto seq = sent.json()["message"]["seq"].get<std::uint64_t>();
        bob1.expect("message");
        bob2.expect("message");
        // Bob reads it.
        REQUIRE(t.http->post("/api/v1/conversations/" + cid + "/read", {{"seq", seq}}, t.bob.token)
                    .status == 204);

        auto tr = t.http->get("/api/v1/admin/messages/" + id + "/trace", t.admin.token);
        REQUIRE(tr.status == 200);
        const auto j = tr.json();
        CHECK(j["trace_id"] == (large ? "trace-big" : "trace-small"));
        CHECK(j["conversation_id"] == cid);
        std::vector<std::string> stages;
        std::set<std::string> pushed_sessions;
        for (const auto& s : j["stages"]) {
            stages.push_back(s["stage"].get<std::string>());
            if (s["stage"] == "pushed") {
                CHECK(s["user_id"] == t.bob.user_id);
                pushed_sessions.insert(s["session_id"].get<std::string>());
            }
            if (s["stage"] == "stored") {
                CHECK(s["seq"] == seq);
            }
            if (s["stage"] == "fanout") {
                CHECK(s["via"] == (large ? "task" : "direct"));
            }
        }
        REQUIRE(stages.size() >= 4);
        CHECK(stages[0] == "received");
        CHECK(stages[1] == "stored");
        CHECK(stages[2] == "fanout");
        CHECK(pushed_sessions.size() == 2);  // both of bob's connections
        CHECK(j["stored"]["seq"] == seq);
        CHECK(j["read"]["read_by"].size() >= 2);  // the sender and bob
        CHECK(std::find(j["read"]["read_by"].begin(), j["read"]["read_by"].end(),
                        json(t.bob.user_id)) != j["read"]["read_by"].end());
    }
    // The world room: every subscribed connection that got it is listed.
    {
        ws_client w(t.server.host(), t.server.port(), t.bob.token);
        w.send({{"type", "subscribe"}, {"id", "s1"}, {"conversation_id", "world"}});
        CHECK(w.expect("ok")["id"] == "s1");
        auto sent = t.http->post("/api/v1/conversations/world/messages",
                                 {{"client_msg_id", "w1"}, {"body", {{"type", "text"}, {"text", "hi all"}}}},
                                 t.alice.token);
        REQUIRE(sent.status == 201);
        w.expect("message");
        const auto id = sent.json()["message"]["message_id"].get<std::string>();
        const auto j = t.http->get("/api/v1/admin/messages/" + id + "/trace", t.admin.token).json();
        bool bob_pushed = false;
        for (const auto& s : j["stages"]) {
            bob_pushed = bob_pushed || (s["stage"] == "pushed" && s["user_id"] == t.bob.user_id);
        }
        CHECK(bob_pushed);
    }
    CHECK(t.http->get("/api/v1/admin/messages/42/trace", t.admin.token).status == 404);
    CHECK(t.http->get("/api/v1/admin/messages/x/trace", t.admin.token).status == 400);
}

TEST_CASE("an online backup of a running server can be restored", "[integration][admin]") {
    auto cfg = fast_test_config();
    admin_fixture t(cfg);
    befriend(*t.http, t.alice, t.bob);
    const auto dm = dm_id(t.alice, t.bob);
    REQUIRE(t.http->post("/api/v1/conversations/" + dm + "/messages",
                         {{"client_msg_id", "b1"}, {"body", {{"type", "text"}, {"text", "keep me"}}}},
                         t.alice.token)
                .status == 201);
    // A webhook (it follows only world, where nothing is sent, so it never delivers): the
    // backup keeps it.
    auto hook = t.http->post("/api/v1/admin/webhooks",
                             {{"url", "http://127.0.0.1:9/kept"},
                              {"events", {"message"}},
                              {"conversation_ids", {"world"}}},
                             t.admin.token);
    REQUIRE(hook.status == 201);
    const auto hook_id = hook.json()["webhook"]["webhook_id"].get<std::string>();
    auto b = t.http->post("/api/v1/admin/backup", t.admin.token);
    REQUIRE(b.status == 200);
    const std::filesystem::path dir = b.json()["dir"].get<std::string>();
    CHECK(std::filesystem::is_directory(dir / "messages"));
    CHECK(std::filesystem::is_regular_file(dir / "monochat.db"));
    CHECK(std::filesystem::is_regular_file(dir / "webhooks.db"));

    // Restore into a fresh data dir and serve it.
    temp_dir restored;
    const auto target = (restored.path() / "data").string();
    auto r = run_monochat({"restore", dir.string()}, {{"MONOCHAT_STORAGE_DATA_DIR", target}});
    REQUIRE(r.exit.code == 0);
    server_process again(with_admin(fast_test_config(), t.root_name_),
                         {{"MONOCHAT_STORAGE_DATA_DIR", target}});
    again.start();
    http_client h2(again.host(), again.port());
    auto history = h2.get("/api/v1/conversations/" + dm + "/messages", t.alice.token);
    REQUIRE(history.status == 200);
    REQUIRE(history.json()["messages"].size() == 1);
    CHECK(history.json()["messages"][0]["body"]["text"] == "keep me");
    auto kept = h2.get("/api/v1/admin/webhooks/" + hook_id, t.admin.token);
    REQUIRE(kept.status == 200);
    CHECK(kept.json()["webhook"]["url"] == "http://127.0.0.1:9/kept");
}

TEST_CASE("monochat --version prints the version and commit, and build_info is a metric",
          "[integration][admin]") {
    auto r = run_monochat({"--version"});
    REQUIRE(r.exit.exited);
    CHECK(r.exit.code == 0);
    CHECK(r.output.rfind("monochat ", 0) == 0);
    CHECK(r.output.find("(commit ") != std::string::npos);
    // The allocator it names is the one the running server loaded (a Release build links
    // mimalloc; a sanitized one keeps the C library's).
    const bool mimalloc = r.output.find(", allocator mimalloc ") != std::string::npos;
    CHECK((mimalloc || r.output.find(", allocator libc)") != std::string::npos));

    server_process server(fast_test_config());
    server.start();
    {
        std::ifstream maps("/proc/" + std::to_string(server.pid()) + "/maps");
        const std::string text((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
        REQUIRE(!text.empty());
        CHECK((text.find("libmimalloc") != std::string::npos) == mimalloc);
    }
    {
        // The long-lived threads carry their names (docs/operations.md), the process its own.
        const std::string proc = "/proc/" + std::to_string(server.pid());
        std::set<std::string> names;
        for (const auto& task : std::filesystem::directory_iterator(proc + "/task")) {
            std::ifstream comm(task.path() / "comm");
            std::string name;
            std::getline(comm, name);
            names.insert(name);
        }
        CHECK(names.count("monochat") == 1);
        for (const char* name : {"mc-log-writer", "mc-indexer", "mc-sqlite-write", "mc-log-purge"}) {
            INFO(name);
            CHECK(names.count(name) == 1);
        }
        CHECK(std::any_of(names.begin(), names.end(),
                          [](const std::string& n) { return n.rfind("mc-bus-", 0) == 0; }));
    }
    http_client http(server.host(), server.port());
    const auto metrics = http.get("/metrics").body;
    const auto at = metrics.find("monochat_build_info{");
    REQUIRE(at != std::string::npos);
    const auto line = metrics.substr(at, metrics.find('\n', at) - at);
    CHECK(line.find("version=\"") != std::string::npos);
    CHECK(line.find("commit=\"") != std::string::npos);
    CHECK(line.substr(line.size() - 2) == " 1");
}
