#include <catch2/catch.hpp>
#include <monochat/infra/config.hpp>

using monochat::infra::parse_config;

TEST_CASE("a list key takes a JSON array of non-empty strings", "[infra][config]") {
    auto c = parse_config(R"({"server": {"allowed_origins": ["https://a.example", "http://b.example:8080"]}})", {});
    REQUIRE(c.has_value());
    CHECK(c->server.allowed_origins ==
          std::vector<std::string>{"https://a.example", "http://b.example:8080"});
    CHECK(parse_config("", {})->server.allowed_origins.empty());

    auto wrong = parse_config(R"({"server": {"allowed_origins": "https://a.example"}})", {});
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
