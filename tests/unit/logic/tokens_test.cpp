#include <monochat/logic/tokens.hpp>

#include <catch2/catch.hpp>
#include <set>

#include "logic/passwords.hpp"
#include "logic/token_cache.hpp"

namespace monochat::logic {
namespace {

std::string hex(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

TEST_CASE("tokens are 64 lowercase hex digits and never repeat", "[logic][tokens]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const auto t = new_token();
        REQUIRE(t.size() == 64);
        REQUIRE(is_well_formed_token(t));
        seen.insert(t);
    }
    CHECK(seen.size() == 1000);
}

TEST_CASE("only 64 lowercase hex digits look like a token", "[logic][tokens]") {
    CHECK(is_well_formed_token(std::string(64, 'a')));
    CHECK_FALSE(is_well_formed_token(std::string(63, 'a')));
    CHECK_FALSE(is_well_formed_token(std::string(65, 'a')));
    CHECK_FALSE(is_well_formed_token(std::string(64, 'A')));
    CHECK_FALSE(is_well_formed_token(std::string(64, 'g')));
    CHECK_FALSE(is_well_formed_token(""));
}

TEST_CASE("the stored form of a token is its SHA-256", "[logic][tokens]") {
    // FIPS 180-2 test vector.
    CHECK(hex(hash_token("abc")) ==
          "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const auto t = new_token();
    CHECK(hash_token(t).size() == 32);
    CHECK(hash_token(t) == hash_token(t));
    CHECK(hash_token(t).find(t) == std::string::npos);
}

TEST_CASE("an Argon2id hash verifies its password only", "[logic][passwords]") {
    const argon2_cost cheap{1, 64 * 1024};
    const auto h = hash_password("correct horse", cheap);
    REQUIRE(h.has_value());
    CHECK(h->rfind("$argon2id$", 0) == 0);
    CHECK(h->find("correct horse") == std::string::npos);
    CHECK(verify_password(*h, "correct horse"));
    CHECK_FALSE(verify_password(*h, "correct horsE"));
    CHECK_FALSE(verify_password("", "correct horse"));
    CHECK_FALSE(verify_password("$argon2id$garbage", "correct horse"));
    // Salted: the same password hashes differently each time.
    CHECK(hash_password("correct horse", cheap).value() != *h);
    // The cost is recorded in the hash.
    CHECK(h->find("m=64,t=1") != std::string::npos);
}

TEST_CASE("a cost below libsodium's minimum is refused", "[logic][passwords]") {
    const auto h = hash_password("x", argon2_cost{0, 64 * 1024});
    REQUIRE_FALSE(h.has_value());
    CHECK(h.error().code == errc::invalid_argument);
}

identity who(std::uint64_t id, const std::string& hash) { return identity{id, false, hash}; }

TEST_CASE("the token cache answers until expiry and forgets revoked tokens at once",
          "[logic][tokens]") {
    token_cache cache(10);
    cache.insert(cache.epoch(), who(1, "h1"), 1000);
    REQUIRE(cache.find("h1", 999).has_value());
    CHECK(cache.find("h1", 999)->user_id == 1);
    CHECK(cache.find("h1", 999)->token_hash == "h1");  // kept once, as the key
    CHECK_FALSE(cache.find("h1", 1000).has_value());  // expired, and dropped
    CHECK(cache.size() == 0);
    cache.insert(cache.epoch(), who(2, "h2"), 5000);
    cache.revoke("h2");
    CHECK_FALSE(cache.find("h2", 0).has_value());
}

TEST_CASE("a lookup that raced a logout is not cached", "[logic][tokens]") {
    token_cache cache(10);
    const auto seen = cache.epoch();  // authenticate reads the epoch, then the store
    cache.revoke("h1");               // meanwhile logout deletes and revokes
    cache.insert(seen, who(1, "h1"), 5000);
    CHECK_FALSE(cache.find("h1", 0).has_value());
    cache.insert(cache.epoch(), who(1, "h1"), 5000);
    CHECK(cache.find("h1", 0).has_value());
}

TEST_CASE("the token cache drops the least recently used entry when full", "[logic][tokens]") {
    token_cache cache(2);
    cache.insert(cache.epoch(), who(1, "a"), 5000);
    cache.insert(cache.epoch(), who(2, "b"), 5000);
    REQUIRE(cache.find("a", 0).has_value());  // a is now the most recent
    cache.insert(cache.epoch(), who(3, "c"), 5000);
    CHECK(cache.size() == 2);
    CHECK(cache.find("a", 0).has_value());
    CHECK_FALSE(cache.find("b", 0).has_value());
    CHECK(cache.find("c", 0).has_value());
    // Refreshing an entry keeps one entry and its new expiry; eviction still follows use.
    cache.insert(cache.epoch(), who(1, "a"), 9000);
    CHECK(cache.size() == 2);
    CHECK(cache.find("a", 8000).has_value());
    cache.insert(cache.epoch(), who(4, "d"), 5000);
    CHECK_FALSE(cache.find("c", 0).has_value());
    CHECK(cache.find("a", 0)->token_hash == "a");
    CHECK(cache.find("d", 0)->user_id == 4);
}

}  // namespace
}  // namespace monochat::logic
