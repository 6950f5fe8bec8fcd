#include <monochat/logic/validation.hpp>

#include <catch2/catch.hpp>
#include <string>

namespace monochat::logic {
namespace {

bool ok(const status& s) { return s.has_value(); }

TEST_CASE("usernames are 3 to 32 bytes of a-z 0-9 _ . -", "[logic][validation]") {
    CHECK(ok(validate_username("abc")));
    CHECK(ok(validate_username("a.b-c_9")));
    CHECK(ok(validate_username(std::string(32, 'x'))));
    CHECK_FALSE(ok(validate_username("ab")));
    CHECK_FALSE(ok(validate_username(std::string(33, 'x'))));
    CHECK_FALSE(ok(validate_username("Alice")));   // no upper case
    CHECK_FALSE(ok(validate_username("al ice")));  // no space
    CHECK_FALSE(ok(validate_username("al@ice")));
    CHECK_FALSE(ok(validate_username("\xc3\xa9t\xc3\xa9")));  // not ASCII
    CHECK_FALSE(ok(validate_username(std::string("ab\0c", 4))));
    CHECK(validate_username("x").error().code == errc::invalid_argument);
}

TEST_CASE("passwords are 8 to 128 bytes of UTF-8 and errors never echo them",
          "[logic][validation]") {
    CHECK(ok(validate_password("12345678")));
    CHECK(ok(validate_password(std::string(128, 'p'))));
    CHECK(ok(validate_password("p\xc3\xa4ssw\xc3\xb6rd with spaces")));
    CHECK_FALSE(ok(validate_password("1234567")));
    CHECK_FALSE(ok(validate_password(std::string(129, 'p'))));
    CHECK_FALSE(ok(validate_password("bad\xff\xfeutf8!")));
    const auto e = validate_password("s3cret!");
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().message.find("s3cret") == std::string::npos);
}

TEST_CASE("display names are 1 to 64 bytes without control characters", "[logic][validation]") {
    CHECK(ok(validate_display_name("A")));
    CHECK(ok(validate_display_name("Zo\xc3\xab \xe7\x8e\x8b")));  // Zoë 王
    CHECK(ok(validate_display_name(std::string(64, 'd'))));
    CHECK_FALSE(ok(validate_display_name("")));
    CHECK_FALSE(ok(validate_display_name(std::string(65, 'd'))));
    // 22 three-byte characters are 66 bytes: the limit counts bytes.
    std::string wide;
    for (int i = 0; i < 22; ++i) {
        wide += "\xe7\x8e\x8b";
    }
    CHECK_FALSE(ok(validate_display_name(wide)));
    CHECK_FALSE(ok(validate_display_name("tab\there")));
    CHECK_FALSE(ok(validate_display_name("new\nline")));
    CHECK_FALSE(ok(validate_display_name("del\x7f")));
    CHECK_FALSE(ok(validate_display_name("c1\xc2\x85")));  // U+0085, a C1 control
    CHECK_FALSE(ok(validate_display_name("\xc0\xaf")));    // overlong
    CHECK_FALSE(ok(validate_display_name("\xed\xa0\x80")));  // a surrogate
}

TEST_CASE("group names follow the display-name rule and notes allow 256 bytes of text",
          "[logic][validation]") {
    CHECK(ok(validate_group_name("Team \xf0\x9f\x9a\x80")));
    CHECK_FALSE(ok(validate_group_name("")));
    CHECK_FALSE(ok(validate_group_name(std::string(65, 'g'))));
    CHECK(ok(validate_note("")));
    CHECK(ok(validate_note("line one\nline two\tend")));
    CHECK(ok(validate_note(std::string(256, 'n'))));
    CHECK_FALSE(ok(validate_note(std::string(257, 'n'))));
    CHECK_FALSE(ok(validate_note("bell\x07")));
}

TEST_CASE("utf-8 validation accepts every well-formed sequence length", "[logic][validation]") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    CHECK_FALSE(is_valid_utf8("\x80"));
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));        // truncated
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
}

TEST_CASE("limit defaults to 50, clamps to 200 and refuses zero, negatives and non-numbers",
          "[logic][validation]") {
    CHECK(parse_limit(std::nullopt).value() == 50);
    CHECK(parse_limit("1").value() == 1);
    CHECK(parse_limit("200").value() == 200);
    CHECK(parse_limit("201").value() == 200);
    CHECK(parse_limit("007").value() == 7);
    CHECK(parse_limit("+5").value() == 5);
    CHECK(parse_limit("99999999999999999999999").value() == 200);
    for (const char* bad : {"0", "000", "-1", "-0", "", "abc", "1.5", "10x", " 5", "0x10", "+"}) {
        INFO(bad);
        const auto r = parse_limit(std::string_view(bad));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error().code == errc::invalid_argument);
    }
}


// Issue 17: a display name with a right-to-left override showed as another user's name.
TEST_CASE("display and group names refuse bidirectional overrides and isolates", "[logic][validation]") {
    // U+202A..U+202E (LRE, RLE, PDF, LRO, RLO) and U+2066..U+2069 (LRI, RLI, FSI, PDI).
    for (const char* bidi : {"\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad",
                             "\xe2\x80\xae", "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8",
                             "\xe2\x81\xa9"}) {
        const std::string name = std::string("Bob") + bidi + "evil";
        INFO(name);
        const auto st = validate_display_name(name);
        REQUIRE_FALSE(ok(st));
        CHECK_THAT(st.error().message, Catch::Contains("bidirectional"));
        CHECK_FALSE(ok(validate_group_name(name)));
    }
    // Right-to-left text itself is fine: Hebrew and Arabic names, and the neighbours of the
    // refused ranges (U+2029 and U+202F, U+2065 is unassigned, U+206A).
    CHECK(ok(validate_display_name("\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d")));  // שלום
    CHECK(ok(validate_display_name("\xd8\xb3\xd9\x84\xd8\xa7\xd9\x85")));  // سلام
    CHECK(ok(validate_display_name("a\xe2\x80\xaf" "b")));                  // U+202F
    CHECK(ok(validate_display_name("a\xe2\x81\xaa" "b")));                  // U+206A
}

}  // namespace
}  // namespace monochat::logic
