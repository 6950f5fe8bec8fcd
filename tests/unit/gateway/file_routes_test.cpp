#include <catch2/catch.hpp>
#include <monochat/gateway/file_routes.hpp>

namespace monochat::gateway {

TEST_CASE("a byte range is read as the first and last byte it names", "[gateway][files]") {
    const auto r = parse_range("bytes=100-199", 1000);
    REQUIRE(r);
    CHECK(r->satisfiable);
    CHECK(r->first == 100);
    CHECK(r->last == 199);

    const auto open = parse_range("bytes=990-", 1000);
    REQUIRE(open);
    CHECK(open->first == 990);
    CHECK(open->last == 999);

    const auto suffix = parse_range("bytes=-10", 1000);
    REQUIRE(suffix);
    CHECK(suffix->first == 990);
    CHECK(suffix->last == 999);

    const auto longer_suffix = parse_range("bytes=-5000", 1000);
    REQUIRE(longer_suffix);
    CHECK(longer_suffix->first == 0);

    const auto past_end = parse_range("bytes=0-5000", 1000);
    REQUIRE(past_end);
    CHECK(past_end->last == 999);
}

TEST_CASE("a range past the end is unsatisfiable, other forms are served whole",
          "[gateway][files]") {
    const auto past = parse_range("bytes=1000-", 1000);
    REQUIRE(past);
    CHECK_FALSE(past->satisfiable);
    const auto zero_suffix = parse_range("bytes=-0", 1000);
    REQUIRE(zero_suffix);
    CHECK_FALSE(zero_suffix->satisfiable);
    CHECK_FALSE(parse_range("bytes=0-1,5-6", 1000));
    CHECK_FALSE(parse_range("items=0-1", 1000));
    CHECK_FALSE(parse_range("bytes=5-1", 1000));
    CHECK_FALSE(parse_range("bytes=a-b", 1000));
    CHECK_FALSE(parse_range("bytes=", 1000));
}

TEST_CASE("content disposition keeps the UTF-8 name and an ASCII fallback", "[gateway][files]") {
    CHECK(content_disposition(true, "cat.png") ==
          "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png");
    CHECK(content_disposition(false, "a \"b\"\\c.txt") ==
          "attachment; filename=\"a _b__c.txt\"; filename*=UTF-8''a%20%22b%22%5Cc.txt");
    CHECK(content_disposition(false, "\xC3\xA9t\xC3\xA9.pdf") ==
          "attachment; filename=\"__t__.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9.pdf");
    // A header line break could split the header: never written as is.
    CHECK(content_disposition(false, "a\r\nb").find('\n') == std::string::npos);
}

TEST_CASE("a streaming route is marked as such by the router", "[gateway][files]") {
    router r;
    r.add_streaming(http_method::post, "/api/v1/files",
                    [](http_request&) -> boost::asio::awaitable<http_response> {
                        co_return http_response::no_content();
                    });
    r.add(http_method::get, "/api/v1/files/{file_id}",
          [](http_request&) -> boost::asio::awaitable<http_response> {
              co_return http_response::no_content();
          });
    CHECK(r.find(http_method::post, "/api/v1/files").streaming);
    const auto get = r.find(http_method::get, "/api/v1/files/12");
    REQUIRE(get.handler != nullptr);
    CHECK_FALSE(get.streaming);
}

}  // namespace monochat::gateway
