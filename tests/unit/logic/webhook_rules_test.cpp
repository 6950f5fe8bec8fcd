#include <monochat/logic/webhooks.hpp>

#include <catch2/catch.hpp>
#include <string>

namespace monochat::logic {
namespace {

bool allowed(std::string_view scheme, std::string_view ip, bool allow_private = false) {
    return check_webhook_address(scheme, ip, allow_private).has_value();
}

TEST_CASE("webhook urls are taken apart, and anything else is refused", "[logic][webhooks]") {
    auto u = parse_webhook_url("https://Hooks.Example.com/in?x=1");
    REQUIRE(u.has_value());
    CHECK(u->scheme == "https");
    CHECK(u->host == "hooks.example.com");
    CHECK(u->port == "443");
    CHECK(u->target == "/in?x=1");
    u = parse_webhook_url("http://127.0.0.1:8081");
    REQUIRE(u.has_value());
    CHECK(u->port == "8081");
    CHECK(u->target == "/");
    u = parse_webhook_url("https://[::1]:9443?q");
    REQUIRE(u.has_value());
    CHECK(u->host == "::1");
    CHECK(u->target == "/?q");
    for (const char* bad : {"", "ftp://x/", "https//x", "https://", "https://u:p@x/",
                            "https://x/#f", "https://x:0/", "https://x:65536/", "https://x:8a/",
                            "https://[::1/", "https://[zz]/", "https://x/a b"}) {
        INFO(bad);
        CHECK_FALSE(parse_webhook_url(bad).has_value());
    }
    CHECK_FALSE(parse_webhook_url("https://x/" + std::string(2048, 'a')).has_value());
}

TEST_CASE("webhook addresses: http only to loopback, private and link-local only when allowed",
          "[logic][webhooks]") {
    CHECK(allowed("http", "127.0.0.1"));
    CHECK(allowed("http", "127.9.9.9"));
    CHECK(allowed("http", "::1"));
    CHECK_FALSE(allowed("http", "8.8.8.8"));
    CHECK_FALSE(allowed("http", "10.0.0.1", true));  // allow_private never makes http public
    CHECK(allowed("https", "8.8.8.8"));
    CHECK(allowed("https", "2001:4860:4860::8888"));
    CHECK(allowed("https", "127.0.0.1"));
    for (const char* p : {"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                          "100.64.0.1", "198.18.0.1", "169.254.169.254", "fd00::1", "fe80::1",
                          "::ffff:10.0.0.1", "::ffff:169.254.169.254"}) {
        INFO(p);
        CHECK_FALSE(allowed("https", p));
        CHECK(allowed("https", p, true));
    }
    CHECK(allowed("https", "172.32.0.1"));  // just past 172.16/12
    for (const char* never : {"0.0.0.0", "0.1.2.3", "224.0.0.1", "239.1.1.1", "240.0.0.1",
                              "255.255.255.255", "::", "ff02::1"}) {
        INFO(never);
        CHECK_FALSE(allowed("https", never, true));
    }
    CHECK(check_webhook_address("https", "10.0.0.1", false).error().code == errc::forbidden);
    CHECK(check_webhook_address("https", "not-an-ip", false).error().code ==
          errc::invalid_argument);
}

TEST_CASE("the webhook signature is HMAC-SHA256 over timestamp.body, in hex", "[logic][webhooks]") {
    // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
    CHECK(webhook_signature("secret", 1700000000, R"({"a":1})") ==
          "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686");
    CHECK(webhook_signature("secret", 1700000001, R"({"a":1})") !=
          webhook_signature("secret", 1700000000, R"({"a":1})"));
}

}  // namespace
}  // namespace monochat::logic
