// auth.admins, the first list-valued key (issue 17): a JSON array in the file (a comma-separated
// string still reads), a comma-separated list or a JSON array in the environment, live.

#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using monochat::infra::apply_live_patch;
using monochat::infra::parse_config;
using names = std::vector<std::string>;

TEST_CASE("auth.admins is empty by default: a fresh server has no admin", "[infra][config]") {
    auto cfg = parse_config("", {});
    REQUIRE(cfg.has_value());
    CHECK(cfg->auth.admins.empty());
    const auto printed = nlohmann::json::parse(monochat::infra::to_json(*cfg));
    CHECK(printed["auth"]["admins"] == nlohmann::json::array());
}

TEST_CASE("auth.admins reads a JSON array or a comma-separated string from the file",
          "[infra][config]") {
    auto listed = parse_config(R"({"auth": {"admins": ["alice", "bob"]}})", {});
    REQUIRE(listed.has_value());
    CHECK(listed->auth.admins == names{"alice", "bob"});
    auto legacy = parse_config(R"({"auth": {"admins": " alice, bob,, "}})", {});
    REQUIRE(legacy.has_value());
    CHECK(legacy->auth.admins == names{"alice", "bob"});

    for (const char* bad : {R"({"auth": {"admins": [1]}})", R"({"auth": {"admins": [""]}})",
                            R"({"auth": {"admins": {"a": 1}}})", R"({"auth": {"admins": true}})"}) {
        INFO(bad);
        auto r = parse_config(bad, {});
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().message.rfind("auth.admins:", 0) == 0);
    }
    const std::string too_long = std::string(R"({"auth": {"admins": [")") + std::string(65, 'a') + "\"]}}";
    CHECK_FALSE(parse_config(too_long, {}).has_value());
}

TEST_CASE("MONOCHAT_AUTH_ADMINS takes a comma-separated list or a JSON array",
          "[infra][config]") {
    auto comma = parse_config("", {{"MONOCHAT_AUTH_ADMINS", "alice"}});
    REQUIRE(comma.has_value());
    CHECK(comma->auth.admins == names{"alice"});
    comma = parse_config(R"({"auth": {"admins": ["x"]}})", {{"MONOCHAT_AUTH_ADMINS", "alice, bob"}});
    REQUIRE(comma.has_value());
    CHECK(comma->auth.admins == names{"alice", "bob"});
    auto array = parse_config("", {{"MONOCHAT_AUTH_ADMINS", R"( ["alice","bob"])"}});
    REQUIRE(array.has_value());
    CHECK(array->auth.admins == names{"alice", "bob"});
    auto empty = parse_config(R"({"auth": {"admins": ["x"]}})", {{"MONOCHAT_AUTH_ADMINS", ""}});
    REQUIRE(empty.has_value());
    CHECK(empty->auth.admins.empty());

    auto broken = parse_config("", {{"MONOCHAT_AUTH_ADMINS", R"(["alice")"}});
    REQUIRE_FALSE(broken.has_value());
    CHECK(broken.error().message.find("MONOCHAT_AUTH_ADMINS") != std::string::npos);
    auto numbers = parse_config("", {{"MONOCHAT_AUTH_ADMINS", "[1, 2]"}});
    REQUIRE_FALSE(numbers.has_value());
    CHECK(numbers.error().message.find("MONOCHAT_AUTH_ADMINS") != std::string::npos);
}

TEST_CASE("auth.admins is live: a settings patch replaces the list", "[infra][config]") {
    auto base = parse_config(R"({"auth": {"admins": ["alice"]}})", {});
    REQUIRE(base.has_value());
    auto next = apply_live_patch(*base, R"({"auth.admins": ["bob", "carol"]})");
    REQUIRE(next.has_value());
    CHECK(next->auth.admins == names{"bob", "carol"});
    const auto live = nlohmann::json::parse(monochat::infra::live_to_json(*next));
    CHECK(live["auth"]["admins"] == nlohmann::json::array({"bob", "carol"}));
    auto plan = monochat::infra::plan_reload(*base, *next);
    CHECK(plan.applied == names{"auth.admins"});
    CHECK(plan.restart_required.empty());
    CHECK(plan.next.auth.admins == names{"bob", "carol"});
}

TEST_CASE("the typing and edit limits have their defaults and ranges", "[infra][config]") {
    auto cfg = parse_config("", {});
    REQUIRE(cfg.has_value());
    CHECK(cfg->limits.typing_interval_ms == 3000);
    CHECK(cfg->limits.typing_entries == 100000);
    CHECK(cfg->limits.max_edits_per_message == 100);
    CHECK_FALSE(parse_config(R"({"limits": {"typing_interval_ms": -1}})", {}).has_value());
    CHECK_FALSE(parse_config(R"({"limits": {"typing_entries": 0}})", {}).has_value());
    CHECK_FALSE(parse_config(R"({"limits": {"max_edits_per_message": 0}})", {}).has_value());
}
