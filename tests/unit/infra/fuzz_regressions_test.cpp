// Inputs the fuzz targets (tests/fuzz) found to crash, kept as unit tests so that the bug
// stays fixed in the plain build too.

#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>
#include <string>

using monochat::errc;
using monochat::infra::parse_config;

// fuzz_config: a number too large for a double made nlohmann throw out_of_range (not the
// parse_error that was caught), which escaped parse_config and ended the process.
TEST_CASE("fuzz: a config number out of double range is an error, not a crash", "[infra][config][fuzz]") {
    const std::string found = "{\"limits\": {\"send_rate\": 5e308, \"send_rurst\": -1}"
                              "\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd"
                              "\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd\xfd"
                              "\xfd\xfd\xfd\xfd\xfd" "8";
    for (const std::string& text : {found, std::string(R"({"limits": {"send_rate": 1e400}})"),
                                   std::string(R"({"server": {"port": -1e999}})")}) {
        INFO(text);
        auto cfg = parse_config(text, {});
        REQUIRE_FALSE(cfg.has_value());
        CHECK(cfg.error().code == errc::invalid_argument);
        CHECK_THAT(cfg.error().message, Catch::Contains("not valid JSON"));
    }
    // The same number from the environment is refused as "expected a number".
    auto env = parse_config("", {{"MONOCHAT_LIMITS_SEND_RATE", "1e400"}});
    REQUIRE_FALSE(env.has_value());
    CHECK_THAT(env.error().message, Catch::Contains("MONOCHAT_LIMITS_SEND_RATE"));
}

// Issue 17: nesting past 64 levels in a config file, a live patch or an environment number is
// refused before the parser builds (and later dumps, recursing per level) the document.
TEST_CASE("config: nesting deeper than 64 levels is refused everywhere", "[infra][config][fuzz]") {
    const std::string deep = "{\"limits\":" + std::string(75'000, '[') + std::string(75'000, ']') + "}";
    auto file = parse_config(deep, {});
    REQUIRE_FALSE(file.has_value());
    CHECK(file.error().code == errc::invalid_argument);
    CHECK_THAT(file.error().message, Catch::Contains("deeper than 64"));

    auto base = parse_config("", {});
    REQUIRE(base.has_value());
    auto patch = monochat::infra::apply_live_patch(*base, deep);
    REQUIRE_FALSE(patch.has_value());
    CHECK(patch.error().code == errc::invalid_argument);
    CHECK_THAT(patch.error().message, Catch::Contains("deeper than 64"));

    auto env = parse_config("", {{"MONOCHAT_LIMITS_SEND_RATE", std::string(75'000, '[')}});
    REQUIRE_FALSE(env.has_value());
    CHECK(env.error().code == errc::invalid_argument);
}
