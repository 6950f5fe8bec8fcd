// Web Push cryptography (logic/web_push_crypto.hpp): RFC 8291's own example message, byte for
// byte, and the checks on keys a browser sends. The end-to-end proof (a VAPID JWT verified and
// a push decrypted by npm's http_ece) is the Web Push block of
// tests/browser/client.test.mjs.

#include "logic/web_push_crypto.hpp"

#include <catch2/catch.hpp>

using namespace monochat::logic::push_crypto;

namespace {

std::string b64(std::string_view text) {
    auto out = base64url_decode(text);
    REQUIRE(out.has_value());
    return *out;
}

}  // namespace

TEST_CASE("aes128gcm encryption reproduces the example of RFC 8291 section 5", "[push]") {
    const auto as = p256_key::from_raw(
        b64("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"),
        b64("BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8"));
    REQUIRE(static_cast<bool>(as));
    const auto ua_public =
        b64("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4");
    auto out = encrypt("When I grow up, I want to be a watermelon", ua_public,
                       b64("BTBZMqHH6r4Tts7J_aSIgg"), &*as, b64("DGv6ra1nlYgDCS1FRnbzlw"));
    REQUIRE(static_cast<bool>(out));
    CHECK(base64url_encode(*out) ==
          "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInm"
          "YWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQ"
          "exSgSxsj_Qulcy4a-fN");
}

TEST_CASE("fresh encryptions use a new key and salt each time", "[push]") {
    auto ua = p256_key::generate();
    REQUIRE(static_cast<bool>(ua));
    const std::string auth(16, '\x07');
    auto a = encrypt("hello", ua->public_key(), auth);
    auto b = encrypt("hello", ua->public_key(), auth);
    REQUIRE(static_cast<bool>(a));
    REQUIRE(static_cast<bool>(b));
    // salt 16 + rs 4 + idlen 1 + keyid 65 + record (5 + delimiter) + tag 16
    CHECK(a->size() == 16 + 4 + 1 + 65 + 6 + 16);
    CHECK(a->substr(0, 16) != b->substr(0, 16));
    CHECK(a->substr(21, 65) != b->substr(21, 65));
    CHECK_FALSE(static_cast<bool>(encrypt("x", ua->public_key(), "short")));
    CHECK_FALSE(static_cast<bool>(encrypt(std::string(max_plaintext + 1, 'x'), ua->public_key(), auth)));
}

TEST_CASE("browser keys are checked: size, form and a point on P-256", "[push]") {
    auto k = p256_key::generate();
    REQUIRE(static_cast<bool>(k));
    CHECK(k->public_key().size() == 65);
    CHECK(valid_p256_public_key(k->public_key()));
    CHECK_FALSE(valid_p256_public_key(k->public_key().substr(0, 64)));
    std::string off_curve = k->public_key();
    off_curve[40] = static_cast<char>(off_curve[40] ^ 0x01);
    CHECK_FALSE(valid_p256_public_key(off_curve));
    std::string compressed = k->public_key();
    compressed[0] = '\x02';
    CHECK_FALSE(valid_p256_public_key(compressed));
}

TEST_CASE("a VAPID key survives its PEM, and base64url round-trips", "[push]") {
    auto k = p256_key::generate();
    REQUIRE(static_cast<bool>(k));
    auto pem = k->private_pem();
    REQUIRE(static_cast<bool>(pem));
    auto back = p256_key::from_pem(*pem);
    REQUIRE(static_cast<bool>(back));
    CHECK(back->public_key() == k->public_key());
    CHECK_FALSE(static_cast<bool>(p256_key::from_pem("not a key")));

    auto jwt = k->sign_jwt(R"({"aud":"https://push.example","exp":1})");
    REQUIRE(static_cast<bool>(jwt));
    const auto dot2 = jwt->rfind('.');
    REQUIRE(dot2 != std::string::npos);
    CHECK(b64(jwt->substr(dot2 + 1)).size() == 64);  // r || s
    CHECK(b64(jwt->substr(0, jwt->find('.'))) == R"({"typ":"JWT","alg":"ES256"})");

    CHECK(base64url_encode("\xfb\xff") == "-_8");
    CHECK(base64url_decode("-_8") == std::optional<std::string>("\xfb\xff"));
    CHECK(base64url_decode("-_8=") == std::optional<std::string>("\xfb\xff"));
    CHECK_FALSE(base64url_decode("+/8").has_value());
    CHECK_FALSE(base64url_decode("a b").has_value());
}
