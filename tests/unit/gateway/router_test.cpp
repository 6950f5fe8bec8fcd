#include <catch2/catch.hpp>
#include <monochat/gateway/http.hpp>
#include <nlohmann/json.hpp>

using namespace monochat::gateway;

namespace {
route_handler tagged(int tag, int& hit) {
    return [tag, &hit](http_request&) -> boost::asio::awaitable<http_response> {
        hit = tag;
        co_return http_response::json(200, "{}");
    };
}
}  // namespace

TEST_CASE("the router extracts path parameters", "[gateway][router]") {
    router r;
    int hit = 0;
    r.add(http_method::get, "/api/v1/groups/{group_id}/members/{user_id}", tagged(1, hit));
    auto m = r.find(http_method::get, "/api/v1/groups/42/members/7");
    REQUIRE(m.handler != nullptr);
    CHECK(*m.pattern == "/api/v1/groups/{group_id}/members/{user_id}");
    REQUIRE(m.params.size() == 2);
    CHECK(m.params[0] == std::pair<std::string, std::string>{"group_id", "42"});
    CHECK(m.params[1] == std::pair<std::string, std::string>{"user_id", "7"});
    CHECK(r.find(http_method::get, "/api/v1/groups/42/members").handler == nullptr);
    CHECK(r.find(http_method::get, "/api/v1/groups/42/members/7/x").handler == nullptr);
}

TEST_CASE("literal segments win over parameters", "[gateway][router]") {
    router r;
    int hit = 0;
    r.add(http_method::get, "/api/v1/friends/{user_id}", tagged(1, hit));
    r.add(http_method::get, "/api/v1/friends/requests", tagged(2, hit));
    auto m = r.find(http_method::get, "/api/v1/friends/requests");
    REQUIRE(m.handler != nullptr);
    CHECK(*m.pattern == "/api/v1/friends/requests");
}

TEST_CASE("a path matched under another method reports the allowed methods", "[gateway][router]") {
    router r;
    int hit = 0;
    r.add(http_method::get, "/x/{id}", tagged(1, hit));
    r.add(http_method::post, "/x/{id}", tagged(2, hit));
    auto m = r.find(http_method::del, "/x/1");
    CHECK(m.handler == nullptr);
    CHECK(m.allowed.size() == 2);
    auto head = r.find(http_method::head, "/x/1");
    CHECK(head.handler != nullptr);
}

TEST_CASE("percent decoding and query parsing", "[gateway][router]") {
    std::string out;
    CHECK(percent_decode("a%20b%2Fc", out, false));
    CHECK(out == "a b/c");
    CHECK_FALSE(percent_decode("%zz", out, false));
    CHECK_FALSE(percent_decode("abc%2", out, false));
    string_pairs q;
    CHECK(parse_query("q=h%C3%A9llo+world&limit=5&&flag", q));
    REQUIRE(q.size() == 3);
    CHECK(q[0].second == "h\xC3\xA9llo world");
    CHECK(q[1] == std::pair<std::string, std::string>{"limit", "5"});
    CHECK(q[2].first == "flag");
}

TEST_CASE("errors map to the protocol's statuses and shape", "[gateway][router]") {
    using monochat::errc;
    CHECK(http_status(errc::invalid_argument) == 400);
    CHECK(http_status(errc::unauthenticated) == 401);
    CHECK(http_status(errc::forbidden) == 403);
    CHECK(http_status(errc::not_found) == 404);
    CHECK(http_status(errc::method_not_allowed) == 405);
    CHECK(http_status(errc::conflict) == 409);
    CHECK(http_status(errc::too_large) == 413);
    CHECK(http_status(errc::rate_limited) == 429);
    CHECK(http_status(errc::internal) == 500);
    CHECK(http_status(errc::unavailable) == 503);
    auto e = monochat::make_error(errc::rate_limited, "slow down");
    e.retry_after_s = 3;
    auto r = error_response(e);
    CHECK(r.status == 429);
    auto body = nlohmann::json::parse(r.body);
    CHECK(body["error"]["code"] == "rate_limited");
    CHECK(body["error"]["message"] == "slow down");
    REQUIRE(r.headers.size() == 1);
    CHECK(r.headers[0] == std::pair<std::string, std::string>{"Retry-After", "3"});
}

TEST_CASE("bearer tokens are taken from the Authorization header", "[gateway][router]") {
    http_request req;
    req.authorization = "Bearer abc123";
    CHECK(req.bearer_token() == "abc123");
    req.authorization = "bearer  xyz ";
    CHECK(req.bearer_token() == "xyz");
    req.authorization = "Basic abc";
    CHECK(req.bearer_token().empty());
}
