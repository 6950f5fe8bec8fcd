#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>

using monochat::infra::parse_config;

TEST_CASE("a list key takes a JSON array of non-empty strings", "[infra][config]") {
    auto c = parse_config(R"({"server": {"allowed_origins": ["https://a.example", "http://b.example:8080"]}})", {});
    REQUIRE(c.has_value());
    CHECK(c->server.allowed_origins ==
          std::vector<std::string>{"https://a.example", "http://b.example:8080"});
    CHECK(parse_config("", {})->server.allowed_origins.empty());

    // A string is read as a comma-separated list (as auth.admins was before it became a list).
    auto one = parse_config(R"({"server": {"allowed_origins": "https://a.example"}})", {});
    REQUIRE(one.has_value());
    CHECK(one->server.allowed_origins == std::vector<std::string>{"https://a.example"});
    auto wrong = parse_config(R"({"server": {"allowed_origins": 5}})", {});
    REQUIRE_FALSE(wrong.has_value());
    CHECK(wrong.error().message.find("server.allowed_origins") != std::string::npos);
    CHECK_FALSE(parse_config(R"({"server": {"allowed_origins": [1]}})", {}).has_value());
    CHECK_FALSE(parse_config(R"({"server": {"allowed_origins": [""]}})", {}).has_value());
}

TEST_CASE("a list key is comma-separated in the environment", "[infra][config]") {
    auto c = parse_config("", {{"MONOCHAT_SERVER_ALLOWED_ORIGINS", " https://a.example, ,http://b.example "}});
    REQUIRE(c.has_value());
    CHECK(c->server.allowed_origins == std::vector<std::string>{"https://a.example", "http://b.example"});
}

TEST_CASE("the body and linger limits have their defaults and ranges", "[infra][config]") {
    auto c = parse_config("", {});
    REQUIRE(c.has_value());
    CHECK(c->server.max_body_bytes == 65536);
    CHECK(c->server.max_body_bytes_in_flight == 64LL << 20);
    CHECK(c->server.linger_ms == 5000);
    CHECK(c->server.linger_bytes == 4LL << 20);
    CHECK_FALSE(parse_config(R"({"server": {"max_body_bytes_in_flight": 10}})", {}).has_value());
    CHECK_FALSE(parse_config(R"({"server": {"linger_ms": 60001}})", {}).has_value());
}

TEST_CASE("a list key from the environment refuses deep nesting", "[infra][config]") {
    auto deep = parse_config("", {{"MONOCHAT_AUTH_ADMINS", std::string(10000, '[') + std::string(10000, ']')}});
    REQUIRE_FALSE(deep.has_value());
    CHECK(deep.error().message.find("deeper than 64") != std::string::npos);
}
