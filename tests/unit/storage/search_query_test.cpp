// The query parser: user text to terms, and terms to the FTS5 MATCH expression. No input may
// produce FTS5 syntax of its own.

#include <catch2/catch.hpp>
#include <monochat/storage/search_index.hpp>
#include <string>

#include "storage/search_query.hpp"

using namespace monochat;
using namespace monochat::storage;

namespace {
// The MATCH expression of `q`, which must parse.
std::string match_of(std::string_view q) {
    auto parsed = parse_search_query(q);
    if (!parsed.has_value()) {
        FAIL("parse failed: " << parsed.error().message);
    }
    return search::fts5_match(*parsed);
}

errc error_of(std::string_view q) {
    auto parsed = parse_search_query(q);
    REQUIRE_FALSE(parsed.has_value());
    return parsed.error().code;
}
}  // namespace

TEST_CASE("words are ANDed, each one quoted", "[storage][search]") {
    CHECK(match_of("hello") == R"("hello")");
    CHECK(match_of("  hello   world ") == R"("hello" AND "world")");
    CHECK(match_of("Café\tau\nlait") == R"("Café" AND "au" AND "lait")");
    // The ideographic space separates words as well.
    CHECK(match_of("北京\u3000上海") == R"("北京" AND "上海")");
}

TEST_CASE("quotes make a phrase, an unterminated quote runs to the end", "[storage][search]") {
    CHECK(match_of(R"(say "new york" now)") == R"("say" AND "new york" AND "now")");
    CHECK(match_of(R"("new   york)") == R"("new   york")");
    CHECK(match_of(R"(a"b c"d)") == R"("a" AND "b c" AND "d")");
}

TEST_CASE("a trailing star makes a prefix", "[storage][search]") {
    CHECK(match_of("caf*") == R"("caf" *)");
    CHECK(match_of("caf***") == R"("caf" *)");
    CHECK(match_of(R"("new yo"*)") == R"("new yo" *)");
    // A star inside a word is punctuation: the tokenizer splits there.
    CHECK(match_of("a*b") == R"("a*b")");
}

TEST_CASE("one unspaced character becomes a prefix, so it is found inside runs",
          "[storage][search]") {
    CHECK(match_of("猫") == R"("猫" *)");
    CHECK(match_of("北京") == R"("北京")");
    CHECK(match_of("iphone 用") == R"("iphone" AND "用" *)");
}

TEST_CASE("terms with nothing searchable are dropped, duplicates collapse", "[storage][search]") {
    CHECK(match_of("*") == "");
    CHECK(match_of("\"") == "");
    CHECK(match_of("\"\"") == "");
    CHECK(match_of("!!! ... 🎉") == "");
    CHECK(match_of("hello , hello") == R"("hello")");
}

TEST_CASE("FTS5 operators in the input are plain words", "[storage][search]") {
    CHECK(match_of("AND(") == R"("AND(")");
    CHECK(match_of("a OR b NOT c") == R"("a" AND "OR" AND "b" AND "NOT" AND "c")");
    CHECK(match_of("text:foo") == R"("text:foo")");
    CHECK(match_of("NEAR(a b)") == R"x("NEAR(a" AND "b)")x");
    CHECK(match_of("^start +x -y {text}") == R"("^start" AND "+x" AND "-y" AND "{text}")");
}

TEST_CASE("a quote inside a term is doubled", "[storage][search]") {
    search_query q;
    q.terms.push_back({"say \"hi\"", false});
    CHECK(search::fts5_match(q) == R"("say ""hi""")");
}

TEST_CASE("empty, oversized, non-UTF-8 and over-long queries are invalid", "[storage][search]") {
    CHECK(error_of("") == errc::invalid_argument);
    CHECK(error_of(" \t\n") == errc::invalid_argument);
    CHECK(error_of(std::string(max_search_query_bytes + 1, 'a')) == errc::invalid_argument);
    CHECK(error_of("caf\xC3") == errc::invalid_argument);
    std::string many;
    for (std::size_t i = 0; i <= max_search_terms; ++i) {
        // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict) on "w" + std::to_string(i).
        many += 'w';
        many += std::to_string(i);
        many += ' ';
    }
    CHECK(error_of(many) == errc::invalid_argument);
    CHECK(parse_search_query(std::string(max_search_query_bytes, 'a')).has_value());
}

TEST_CASE("control characters never reach a term", "[storage][search]") {
    CHECK(match_of(std::string("a\0b", 3)) == R"("a" AND "b")");
    CHECK(match_of(std::string("\"a\0b\"", 5)) == R"("a b")");
}
