// The search tokenizer: words folded for case and accents, unspaced scripts as pairs, the
// difference between documents and queries, and UTF-8 decoding.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "storage/search_tokenizer.hpp"
#include "storage/search_unicode.hpp"

using namespace monochat::storage::search;
using strings = std::vector<std::string>;

namespace {
strings doc(std::string_view s) { return token_texts(s, token_mode::document); }
strings query(std::string_view s) { return token_texts(s, token_mode::query); }
}  // namespace

TEST_CASE("words are split on punctuation and folded to lower case", "[storage][search]") {
    CHECK(doc("Hello, World! It's 2024.") == strings{"hello", "world", "it", "s", "2024"});
    CHECK(doc("e-mail_address@example.com") == strings{"e", "mail", "address", "example", "com"});
    CHECK(doc("   ").empty());
    CHECK(doc("").empty());
    CHECK(doc("?!…—«»").empty());
}

TEST_CASE("accents of Latin-1 and Latin Extended-A letters fold to their base letter",
          "[storage][search]") {
    CHECK(doc("Café CAFÉ café") == strings{"cafe", "cafe", "cafe"});
    CHECK(doc("naïve Ångström São Paulo") == strings{"naive", "angstrom", "sao", "paulo"});
    CHECK(doc("Straße STRASSE") == strings{"strasse", "strasse"});
    CHECK(doc("Łódź Øresund Æsir œuvre") == strings{"lodz", "oresund", "aesir", "oeuvre"});
    CHECK(doc("Dvořák Đorđe ĳssel Ŀl") == strings{"dvorak", "dorde", "ijssel", "ll"});
    // Every letter of both blocks folds to ASCII, except U+0149 (its apostrophe is a letter).
    for (char32_t cp = 0xC0; cp < 0x180; ++cp) {
        if (cp == 0xD7 || cp == 0xF7 || cp == 0x149) {
            continue;
        }
        INFO("U+" << std::hex << static_cast<unsigned>(cp));
        REQUIRE(classify(cp) == char_class::word);
        for (const char c : fold(cp)) {
            CHECK(static_cast<unsigned char>(c) < 0x80);
        }
    }
}

TEST_CASE("decomposed accents fold like precomposed letters", "[storage][search]") {
    // "e" followed by U+0301 COMBINING ACUTE ACCENT.
    CHECK(doc("cafe\xCC\x81 au lait") == strings{"cafe", "au", "lait"});
}

TEST_CASE("other scripts fold case and accents too", "[storage][search]") {
    CHECK(doc("ΚΑΦΕΣ καφές") == strings{"καφεσ", "καφεσ"});
    CHECK(doc("Ёлка ЁЛКА") == strings{"елка", "елка"});
    CHECK(doc("ＡＢＣ１２３") == strings{"abc123"});
    CHECK(doc("٣ apples") == strings{"3", "apples"});
    CHECK(doc("ﬁnance") == strings{"finance"});
    CHECK(doc("मराठी भाषा") == strings{"मराठी", "भाषा"});
    CHECK(doc("שָׁלוֹם עולם") == strings{"שלום", "עולם"});
}

TEST_CASE("an unspaced run becomes overlapping pairs plus its last character",
          "[storage][search]") {
    CHECK(doc("北京") == strings{"北京", "京"});
    CHECK(doc("我们今天去北京旅游") ==
          strings{"我们", "们今", "今天", "天去", "去北", "北京", "京旅", "旅游", "游"});
    CHECK(query("我们今天去北京旅游") ==
          strings{"我们", "们今", "今天", "天去", "去北", "北京", "京旅", "旅游"});
    // A run of one is that character, in both modes.
    CHECK(doc("猫") == strings{"猫"});
    CHECK(query("猫") == strings{"猫"});
    // Punctuation ends a run.
    CHECK(doc("你好，世界。") == strings{"你好", "好", "世界", "界"});
}

TEST_CASE("the last character of a run is at the position of the last pair",
          "[storage][search]") {
    std::vector<bool> colocated;
    tokenize("北京大学", token_mode::document, [&](const token& t) {
        colocated.push_back(t.colocated);
        return 0;
    });
    CHECK(colocated == std::vector<bool>{false, false, false, true});
}

TEST_CASE("Japanese kana and kanji form one run, Korean and Thai are paired too",
          "[storage][search]") {
    CHECK(query("東京タワーに行きました") ==
          strings{"東京", "京タ", "タワ", "ワー", "ーに", "に行", "行き", "きま", "まし", "した"});
    CHECK(query("서울에서 만나요") == strings{"서울", "울에", "에서", "만나", "나요"});
    CHECK(query("ภาษาไทย").size() == 6);
    // Halfwidth katakana folds to the fullwidth form.
    CHECK(query("ｶﾀｶﾅ") == query("カタカナ"));
}

TEST_CASE("words and unspaced runs split at the script boundary", "[storage][search]") {
    CHECK(doc("iPhone用户2024年") == strings{"iphone", "用户", "户", "2024", "年"});
}

TEST_CASE("tokens carry the byte offsets of their source text", "[storage][search]") {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    tokenize("Café 北京", token_mode::query, [&](const token& t) {
        spans.emplace_back(t.start, t.end);
        return 0;
    });
    // "Café" is 5 bytes; each Han character is 3.
    CHECK(spans == std::vector<std::pair<std::size_t, std::size_t>>{{0, 5}, {6, 12}});
}

TEST_CASE("a sink's non-zero answer stops the tokenizer", "[storage][search]") {
    int calls = 0;
    const int rc = tokenize("one two three", token_mode::document, [&](const token&) {
        ++calls;
        return calls == 2 ? 7 : 0;
    });
    CHECK(rc == 7);
    CHECK(calls == 2);
}

TEST_CASE("long words are cut at a character boundary", "[storage][search]") {
    const std::string long_word(500, 'a');
    auto t = doc(long_word + " b");
    REQUIRE(t.size() == 2);
    CHECK(t[0].size() == max_token_bytes);
    std::string accents;
    for (int i = 0; i < 200; ++i) {
        accents += "ж";  // two bytes each
    }
    t = doc(accents);
    REQUIRE(t.size() == 1);
    CHECK(t[0].size() == max_token_bytes);
    CHECK(is_valid_utf8(t[0]));
}

TEST_CASE("UTF-8 decoding refuses overlong forms, surrogates and truncation",
          "[storage][search]") {
    CHECK(decode_utf8("\xE2\x82\xAC", 0).cp == 0x20AC);
    CHECK(decode_utf8("\xE2\x82\xAC", 0).size == 3);
    CHECK(decode_utf8("\xF0\x9F\x98\x80", 0).cp == 0x1F600);
    CHECK(decode_utf8("\xC0\xAF", 0).cp == invalid_code_point);      // overlong '/'
    CHECK(decode_utf8("\xED\xA0\x80", 0).cp == invalid_code_point);  // a surrogate
    CHECK(decode_utf8("\xF4\x90\x80\x80", 0).cp == invalid_code_point);
    CHECK(decode_utf8("\xE2\x82", 0).cp == invalid_code_point);
    CHECK(decode_utf8("\x80", 0).cp == invalid_code_point);
    CHECK(is_valid_utf8("plain ascii, 中文, émoji 😀"));
    CHECK_FALSE(is_valid_utf8("bad \xFF byte"));
    // An invalid byte separates words and is never part of a token.
    CHECK(doc("ab\xFF" "cd") == strings{"ab", "cd"});
}

TEST_CASE("emoji and symbols are not indexed", "[storage][search]") {
    CHECK(doc("🎉 party 🎉 ♥ €5") == strings{"party", "5"});
}
