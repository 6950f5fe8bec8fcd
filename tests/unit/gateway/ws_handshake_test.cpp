#include "gateway/ws_handshake.hpp"

#include <catch2/catch.hpp>

using namespace monochat::gateway;

TEST_CASE("the subprotocol offer yields monochat.v1 and the one token", "[gateway][ws_handshake]") {
    const auto p = parse_ws_subprotocols("monochat.v1, monochat.token.abc123");
    CHECK(p.v1);
    REQUIRE(p.token);
    CHECK(*p.token == "abc123");
    CHECK_FALSE(p.malformed);

    const auto spaced = parse_ws_subprotocols(" x-other ,\tmonochat.token.ff \t, monochat.v1,");
    CHECK(spaced.v1);
    REQUIRE(spaced.token);
    CHECK(*spaced.token == "ff");

    const auto none = parse_ws_subprotocols("");
    CHECK_FALSE(none.v1);
    CHECK_FALSE(none.token);
    CHECK_FALSE(none.malformed);

    CHECK_FALSE(parse_ws_subprotocols("monochat.v2, monochat.v1x").v1);
}

TEST_CASE("two tokens or an empty one make the offer malformed", "[gateway][ws_handshake]") {
    CHECK(parse_ws_subprotocols("monochat.v1, monochat.token.a, monochat.token.b").malformed);
    CHECK(parse_ws_subprotocols("monochat.v1, monochat.token.").malformed);
    CHECK(parse_ws_subprotocols("monochat.token.a,monochat.token.a").malformed);
    CHECK(parse_ws_subprotocols("monochat.v1, monochat.token.a b").malformed);
    CHECK(parse_ws_subprotocols("monochat.v1, monochat.token.a\x01").malformed);
}

TEST_CASE("origins compare without case, trailing slash or default port", "[gateway][ws_handshake]") {
    CHECK(normalize_origin("HTTPS://Chat.Example:443/") == "https://chat.example");
    CHECK(normalize_origin("http://chat.example:80") == "http://chat.example");
    CHECK(normalize_origin("http://chat.example:443") == "http://chat.example:443");
    CHECK(normalize_origin("https://chat.example:8443") == "https://chat.example:8443");
}

TEST_CASE("an upgrade's Origin must be its own, listed, or absent", "[gateway][ws_handshake]") {
    const std::vector<std::string> none;
    CHECK(ws_origin_allowed(std::nullopt, "chat.example", false, none));
    CHECK(ws_origin_allowed("http://chat.example", "chat.example", false, none));
    CHECK(ws_origin_allowed("http://chat.example", "chat.example:80", false, none));
    CHECK(ws_origin_allowed("https://chat.example", "chat.example", true, none));
    CHECK_FALSE(ws_origin_allowed("https://chat.example", "chat.example", false, none));
    CHECK_FALSE(ws_origin_allowed("http://chat.example:8080", "chat.example", false, none));
    CHECK_FALSE(ws_origin_allowed("https://evil.example", "chat.example", true, none));
    CHECK_FALSE(ws_origin_allowed("null", "chat.example", false, none));
    CHECK_FALSE(ws_origin_allowed("", "chat.example", false, none));
    CHECK_FALSE(ws_origin_allowed("http://chat.example", "", false, none));
    const std::vector<std::string> listed{"https://App.Example"};
    CHECK(ws_origin_allowed("https://app.example:443", "chat.example", false, listed));
    CHECK_FALSE(ws_origin_allowed("http://app.example", "chat.example", false, listed));
}
