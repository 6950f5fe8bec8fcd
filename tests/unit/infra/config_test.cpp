#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>
#include <nlohmann/json.hpp>

using monochat::errc;
using monochat::infra::parse_config;

TEST_CASE("embedded defaults match the protocol's table", "[infra][config]") {
    auto cfg = parse_config("", {});
    REQUIRE(cfg.has_value());
    CHECK(cfg->server.host == "127.0.0.1");
    CHECK(cfg->server.port == 8080);
    CHECK(cfg->server.heartbeat_ms == 30000);
    CHECK(cfg->storage.data_dir == "./data");
    CHECK(cfg->storage.sync == "always");
    CHECK(cfg->limits.send_rate == 20);
    CHECK(cfg->limits.send_burst == 50);
    CHECK(cfg->limits.auth_rate == 30);
    CHECK(cfg->limits.max_connections == 100000);
    CHECK(cfg->limits.max_frame_bytes == 65536);
    CHECK(cfg->limits.max_text_bytes == 8192);
    CHECK(cfg->fanout.large_group_threshold == 500);
    CHECK(cfg->fanout.shard_size == 500);
    CHECK(cfg->policy.dm_requires_friendship);
}

TEST_CASE("a file overrides defaults and comments are allowed", "[infra][config]") {
    auto cfg = parse_config(R"({
        // a comment
        "server": {"port": 9000, "tls": {"cert_file": "a.pem", "key_file": "k.pem"}},
        "limits": {"send_rate": 2.5} /* another */
    })",
                            {});
    REQUIRE(cfg.has_value());
    CHECK(cfg->server.port == 9000);
    CHECK(cfg->server.tls.cert_file == "a.pem");
    CHECK(cfg->limits.send_rate == 2.5);
    CHECK(cfg->server.host == "127.0.0.1");
}

TEST_CASE("environment overrides win over the file", "[infra][config]") {
    auto cfg = parse_config(R"({"server": {"port": 9000}})",
                            {{"MONOCHAT_SERVER_PORT", "9100"},
                             {"MONOCHAT_POLICY_DM_REQUIRES_FRIENDSHIP", "false"},
                             {"MONOCHAT_STORAGE_DATA_DIR", "/var/lib/monochat"}});
    REQUIRE(cfg.has_value());
    CHECK(cfg->server.port == 9100);
    CHECK_FALSE(cfg->policy.dm_requires_friendship);
    CHECK(cfg->storage.data_dir == "/var/lib/monochat");
}

TEST_CASE("errors name the key", "[infra][config]") {
    struct bad_case {
        const char* json;
        const char* expected;
    };
    const bad_case cases[] = {
        {R"({"server": {"prot": 1}})", "server.prot: unknown key"},
        {R"({"serve": {}})", "serve: unknown key"},
        {R"({"server": {"port": "80"}})", "server.port: expected an integer"},
        {R"({"server": {"port": 70000}})", "server.port: 70000 is outside 0..65535"},
        {R"({"server": {"port": -1}})", "server.port: -1 is outside 0..65535"},
        {R"({"server": {"port": 1.5}})", "server.port: expected an integer"},
        {R"({"storage": {"sync": "sometimes"}})", "storage.sync: \"sometimes\" is not one of always, none"},
        {R"({"policy": {"dm_requires_friendship": 1}})", "policy.dm_requires_friendship: expected true or false"},
        {R"({"server": 5})", "server: expected an object"},
        {R"({"server": {"tls": {"cert_file": "x"}}})", "server.tls.cert_file"},
        {R"([1, 2])", "top level must be an object"},
        {R"({"server": )", "not valid JSON"},
    };
    for (const auto& c : cases) {
        INFO(c.json);
        auto cfg = parse_config(c.json, {});
        REQUIRE_FALSE(cfg.has_value());
        CHECK(cfg.error().code == errc::invalid_argument);
        CHECK_THAT(cfg.error().message, Catch::Contains(c.expected));
    }
}

TEST_CASE("a bad environment value names the variable", "[infra][config]") {
    auto cfg = parse_config("", {{"MONOCHAT_LIMITS_SEND_BURST", "many"}});
    REQUIRE_FALSE(cfg.has_value());
    CHECK_THAT(cfg.error().message, Catch::Contains("MONOCHAT_LIMITS_SEND_BURST"));
    CHECK_THAT(cfg.error().message, Catch::Contains("limits.send_burst"));
}

TEST_CASE("to_json round-trips through parse_config", "[infra][config]") {
    auto cfg = parse_config(R"({"server": {"port": 1234}, "log": {"format": "json"}})", {});
    REQUIRE(cfg.has_value());
    auto again = parse_config(monochat::infra::to_json(*cfg), {});
    REQUIRE(again.has_value());
    CHECK(again->server.port == 1234);
    CHECK(again->log.format == "json");
    CHECK(monochat::infra::restart_required_changes(*cfg, *again).empty());
}

TEST_CASE("non-live changes are reported as needing a restart", "[infra][config]") {
    auto a = parse_config("", {});
    auto b = parse_config(R"({"server": {"port": 1}, "limits": {"send_rate": 5}})", {});
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    const auto changed = monochat::infra::restart_required_changes(*a, *b);
    REQUIRE(changed.size() == 1);
    CHECK(changed[0] == "server.port");
}

TEST_CASE("every key is documented with its environment name", "[infra][config]") {
    const auto keys = monochat::infra::describe_config();
    REQUIRE(keys.size() > 30);
    for (const auto& k : keys) {
        INFO(k.path);
        CHECK_FALSE(k.doc.empty());
        CHECK(k.env.rfind("MONOCHAT_", 0) == 0);
    }
}

// Issue 17: a duration accepted in seconds overflowed once turned into milliseconds or
// nanoseconds (an idempotency window of 9223372036854776 s stored a client_msg_id twice). Each
// seconds key accepts its documented maximum (100 years) and refuses anything above it.
TEST_CASE("config: durations in seconds stop at 100 years", "[infra][config]") {
    for (const char* key : {"policy.edit_window_s", "policy.recall_window_s", "policy.idempotency_window_s",
                            "auth.token_ttl_s", "auth.login_failure_window_s", "auth.login_lockout_s"}) {
        const std::string k(key);
        const auto dot = k.find('.');
        const std::string section = k.substr(0, dot);
        const std::string name = k.substr(dot + 1);
        INFO(key);
        auto at_max = monochat::infra::parse_config(
            "{\"" + section + "\": {\"" + name + "\": 3153600000}}", {});
        CHECK(at_max.has_value());
        auto over = monochat::infra::parse_config(
            "{\"" + section + "\": {\"" + name + "\": 9223372036854776}}", {});
        REQUIRE_FALSE(over.has_value());
        CHECK_THAT(over.error().message, Catch::Contains(key) && Catch::Contains("outside"));
        auto just_over = monochat::infra::parse_config(
            "{\"" + section + "\": {\"" + name + "\": 3153600001}}", {});
        CHECK_FALSE(just_over.has_value());
    }
}
