// The JSON nesting cap (issue 17: a 75,000-level body crashed the server through dump()).

#include <monochat/infra/json_depth.hpp>

#include <catch2/catch.hpp>
#include <string>

using monochat::infra::json_nesting_exceeds;
using monochat::infra::max_json_depth;

namespace {
std::string nested(std::size_t levels, char open = '[', char close = ']') {
    return std::string(levels, open) + std::string(levels, close);
}
std::string nested_objects(std::size_t levels) {
    std::string s;
    for (std::size_t i = 0; i < levels; ++i) {
        s += "{\"a\":";
    }
    s += "1";
    s += std::string(levels, '}');
    return s;
}
}  // namespace

TEST_CASE("json depth: 64 levels pass, 65 do not", "[infra][json_depth]") {
    CHECK_FALSE(json_nesting_exceeds(nested(max_json_depth)));
    CHECK(json_nesting_exceeds(nested(max_json_depth + 1)));
    CHECK_FALSE(json_nesting_exceeds(nested_objects(max_json_depth)));
    CHECK(json_nesting_exceeds(nested_objects(max_json_depth + 1)));
    CHECK(json_nesting_exceeds(nested(75'000)));
    CHECK_FALSE(json_nesting_exceeds(""));
    CHECK_FALSE(json_nesting_exceeds(R"({"a":[1,2,{"b":[]}],"c":{}})"));
}

TEST_CASE("json depth: siblings do not add up, only open levels count", "[infra][json_depth]") {
    std::string wide = "[";
    for (int i = 0; i < 10'000; ++i) {
        wide += "[],";
    }
    wide += "[]]";
    CHECK_FALSE(json_nesting_exceeds(wide));
}

TEST_CASE("json depth: brackets inside strings do not count", "[infra][json_depth]") {
    const std::string in_string = "{\"text\":\"" + nested(1000) + "\"}";
    CHECK_FALSE(json_nesting_exceeds(in_string));
    // An escaped quote does not end the string.
    const std::string escaped = "{\"text\":\"\\\"" + nested(1000) + "\"}";
    CHECK_FALSE(json_nesting_exceeds(escaped));
    // An escaped backslash does end it: the brackets after are real.
    const std::string after = "[\"\\\\\"," + nested(100) + "]";
    CHECK(json_nesting_exceeds(after));
}

TEST_CASE("json depth: the limit and comments are options", "[infra][json_depth]") {
    CHECK(json_nesting_exceeds(nested(3), {.limit = 2}));
    CHECK_FALSE(json_nesting_exceeds(nested(2), {.limit = 2}));
    const std::string commented = "// [[[[[\n/* {{{{{ */ {\"a\": [1]}";
    CHECK_FALSE(json_nesting_exceeds(commented, {.limit = 2, .comments = true}));
    // Without the option a comment is just text; its brackets count (the parser refuses it).
    CHECK(json_nesting_exceeds(commented, {.limit = 2}));
}

TEST_CASE("json depth: unbalanced or truncated text never wraps or reads past the end",
          "[infra][json_depth]") {
    CHECK_FALSE(json_nesting_exceeds(std::string(100'000, ']')));
    CHECK_FALSE(json_nesting_exceeds("\"unterminated \\"));
    CHECK_FALSE(json_nesting_exceeds("/*", {.comments = true}));
    CHECK_FALSE(json_nesting_exceeds("/", {.comments = true}));
    CHECK(json_nesting_exceeds(std::string(100'000, ']') + nested(65)));
}
