// Reload decisions: which keys of a new file take effect at once, which wait for a restart,
// and live patches from the admin API.

#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>

using namespace monochat::infra;

namespace {

config parsed(std::string_view text) {
    auto c = parse_config(text, {});
    REQUIRE(c.has_value());
    return *c;
}

}  // namespace

TEST_CASE("a reload applies changed live keys and keeps the others", "[infra][reload]") {
    const config running = parsed(R"({"limits": {"send_rate": 20}, "log": {"level": "info"}})");
    const config loaded = parsed(R"({"limits": {"send_rate": 2.5}, "log": {"level": "debug"}})");
    const auto plan = plan_reload(running, loaded);
    CHECK(plan.next.limits.send_rate == 2.5);
    CHECK(plan.next.log.level == "debug");
    CHECK(plan.applied == std::vector<std::string>{"limits.send_rate", "log.level"});
    CHECK(plan.restart_required.empty());
}

TEST_CASE("a reload that changes a restart-only key reports it and leaves it alone",
          "[infra][reload]") {
    const config running = parsed(R"({"server": {"port": 8080}, "storage": {"data_dir": "a"}})");
    const config loaded =
        parsed(R"({"server": {"port": 9090}, "storage": {"data_dir": "b"}, "fanout": {"shard_size": 7}})");
    const auto plan = plan_reload(running, loaded);
    CHECK(plan.next.server.port == 8080);
    CHECK(plan.next.storage.data_dir == "a");
    CHECK(plan.next.fanout.shard_size == 7);
    CHECK(plan.applied == std::vector<std::string>{"fanout.shard_size"});
    CHECK(plan.restart_required == std::vector<std::string>{"server.port", "storage.data_dir"});
}

TEST_CASE("an unchanged file plans nothing", "[infra][reload]") {
    const config running = parsed(R"({"limits": {"send_burst": 3}})");
    const auto plan = plan_reload(running, running);
    CHECK(plan.applied.empty());
    CHECK(plan.restart_required.empty());
    CHECK(plan.next.limits.send_burst == 3);
}

TEST_CASE("a live patch changes live keys, nested or flat", "[infra][reload]") {
    const config base;
    auto a = apply_live_patch(base, R"({"limits": {"send_rate": 1.5}, "policy.recall_window_s": 9})");
    REQUIRE(a.has_value());
    CHECK(a->limits.send_rate == 1.5);
    CHECK(a->policy.recall_window_s == 9);
    CHECK(a->limits.send_burst == base.limits.send_burst);
}

TEST_CASE("a live patch with a bad value or a restart-only key is refused naming the key",
          "[infra][reload]") {
    const config base;
    auto bad = apply_live_patch(base, R"({"limits": {"send_rate": -1}})");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().message.find("limits.send_rate") != std::string::npos);
    auto fixed = apply_live_patch(base, R"({"server": {"port": 1}})");
    REQUIRE_FALSE(fixed.has_value());
    CHECK(fixed.error().message.find("server.port") != std::string::npos);
    auto unknown = apply_live_patch(base, R"({"limits.nope": 1})");
    REQUIRE_FALSE(unknown.has_value());
    CHECK(unknown.error().message.find("limits.nope") != std::string::npos);
    CHECK_FALSE(apply_live_patch(base, "[1]").has_value());
    CHECK_FALSE(apply_live_patch(base, "{").has_value());
}

TEST_CASE("live settings as JSON hold live keys only", "[infra][reload]") {
    const auto text = live_to_json(config{});
    CHECK(text.find("\"send_rate\"") != std::string::npos);
    CHECK(text.find("\"data_dir\"") == std::string::npos);
    CHECK(text.find("\"port\"") == std::string::npos);
}
