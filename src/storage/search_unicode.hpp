#pragma once
// The Unicode tables of the search tokenizer (search_tokenizer.hpp): which characters make
// words, which are indexed as pairs (scripts written without spaces), and how word characters
// fold (case, accents, compatibility forms). The tables are generated from the Unicode database
// by search_unicode_gen.py, whose docstring states the rules; ASCII is answered inline.
//
// Thread-safety: pure functions over constant tables.

#include <cstdint>
#include <string_view>

namespace monochat::storage::search {

enum class char_class : std::uint8_t {
    separator,  // ends a word or a run: spaces, punctuation, symbols, emoji, controls
    word,       // letters, digits and marks of spaced scripts
    bigram,     // letters of Han, Kana, Hangul, Thai, ...: indexed as overlapping pairs
    ignore,     // combining accents, joiners, variation selectors: dropped, never split a word
};

char_class classify_slow(char32_t cp) noexcept;
std::string_view fold_slow(char32_t cp) noexcept;

inline char_class classify(char32_t cp) noexcept {
    if (cp < 0x80) {
        const bool alnum = (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
                           (cp >= 'A' && cp <= 'Z');
        return alnum ? char_class::word : char_class::separator;
    }
    return classify_slow(cp);
}

// The folded form of a word or bigram character as UTF-8; empty when it folds to itself. ASCII
// upper case is the caller's fast path (see search_tokenizer.cpp).
inline std::string_view fold(char32_t cp) noexcept {
    if (cp < 0x80) {
        return {};
    }
    return fold_slow(cp);
}

}  // namespace monochat::storage::search
