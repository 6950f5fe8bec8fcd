// The emoji check of reactions (logic/emoji.hpp): one emoji, as Unicode defines one, and
// nothing else.

#include "logic/emoji.hpp"

#include <catch2/catch.hpp>
#include <string>

using monochat::logic::is_single_emoji;

namespace {

// UTF-8 of a code point sequence, so that every case below names its code points.
std::string utf8(std::initializer_list<char32_t> cps) {
    std::string out;
    for (const char32_t c : cps) {
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
        } else if (c < 0x800) {
            out.push_back(static_cast<char>(0xC0 | (c >> 6)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else if (c < 0x10000) {
            out.push_back(static_cast<char>(0xE0 | (c >> 12)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        } else {
            out.push_back(static_cast<char>(0xF0 | (c >> 18)));
            out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
            out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return out;
}

struct emoji_case {
    const char* what;
    std::string text;
};

}  // namespace

TEST_CASE("one emoji of every form is accepted", "[emoji]") {
    const emoji_case cases[] = {
        {"thumbs up", utf8({0x1F44D})},
        {"grinning face", utf8({0x1F600})},
        {"newest block (Unicode 15)", utf8({0x1FAE8})},
        {"red heart, text default", utf8({0x2764})},
        {"red heart with VS16", utf8({0x2764, 0xFE0F})},
        {"copyright sign with VS16", utf8({0x00A9, 0xFE0F})},
        {"skin tone", utf8({0x1F44D, 0x1F3FD})},
        {"skin tone swatch alone", utf8({0x1F3FB})},
        {"flag of France", utf8({0x1F1EB, 0x1F1F7})},
        {"keycap one", utf8({'1', 0xFE0F, 0x20E3})},
        {"keycap hash without VS16", utf8({'#', 0x20E3})},
        {"flag of Scotland (tag sequence)",
         utf8({0x1F3F4, 0xE0067, 0xE0062, 0xE0073, 0xE0063, 0xE0074, 0xE007F})},
        {"family (ZWJ)", utf8({0x1F468, 0x200D, 0x1F469, 0x200D, 0x1F467, 0x200D, 0x1F466})},
        {"rainbow flag (VS16 and ZWJ)", utf8({0x1F3F3, 0xFE0F, 0x200D, 0x1F308})},
        {"technologist with skin tone", utf8({0x1F9D1, 0x1F3FD, 0x200D, 0x1F4BB})},
        {"heart on fire", utf8({0x2764, 0xFE0F, 0x200D, 0x1F525})},
        {"32 bytes exactly",
         utf8({0x1F468, 0x200D, 0x1F469, 0x200D, 0x1F467, 0x200D, 0x1F466, 0x200D, 0x1F466})},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        CHECK(is_single_emoji(c.text));
    }
}

TEST_CASE("text, several emoji and broken sequences are refused", "[emoji]") {
    const emoji_case cases[] = {
        {"empty", ""},
        {"a letter", "a"},
        {"a digit", "1"},
        {"a word", "ok"},
        {"an emoji and a letter", utf8({0x1F44D, 'a'})},
        {"two emoji", utf8({0x1F44D, 0x1F44D})},
        {"a space after", utf8({0x1F44D, ' '})},
        {"one regional indicator", utf8({0x1F1EB})},
        {"two flags", utf8({0x1F1EB, 0x1F1F7, 0x1F1E9, 0x1F1EA})},
        {"three regional indicators", utf8({0x1F1EB, 0x1F1F7, 0x1F1E9})},
        {"a dangling joiner", utf8({0x1F44D, 0x200D})},
        {"a leading joiner", utf8({0x200D, 0x1F44D})},
        {"a joiner alone", utf8({0x200D})},
        {"text presentation selector", utf8({0x2764, 0xFE0E})},
        {"VS16 alone", utf8({0xFE0F})},
        {"keycap of a letter", utf8({'a', 0xFE0F, 0x20E3})},
        {"a keycap with more after", utf8({'1', 0x20E3, 0x1F44D})},
        {"two skin tones", utf8({0x1F44D, 0x1F3FD, 0x1F3FD})},
        {"a tag sequence without its end", utf8({0x1F3F4, 0xE0067, 0xE0062})},
        {"a CJK character", utf8({0x4E2D})},
        {"a combining mark", utf8({0x1F44D, 0x0301})},
        {"over 32 bytes", utf8({0x1F468, 0x200D, 0x1F469, 0x200D, 0x1F467, 0x200D, 0x1F466, 0x200D,
                                0x1F466, 0x200D, 0x1F466})},
        {"invalid UTF-8", "\xF0\x9F\x91"},
        {"a stray continuation byte", "\x8D"},
        {"an overlong encoding", "\xC0\xA1"},
        {"an encoded surrogate", "\xED\xA0\xBD"},
        {"beyond U+10FFFF", "\xF4\x90\x80\x80"},
        {"a NUL", std::string("\0", 1)},
    };
    for (const auto& c : cases) {
        INFO(c.what);
        CHECK_FALSE(is_single_emoji(c.text));
    }
}
