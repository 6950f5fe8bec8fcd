#pragma once
// The search tokenizer: the one definition of what a searchable token is, shared by indexing
// (documents) and querying, and registered into SQLite as the FTS5 tokenizer `monochat`
// (search_fts5.hpp). Pure C++ over search_unicode.hpp's tables, so tests need no database.
//
//   words        runs of word characters (letters, digits, marks of spaced scripts), folded:
//                "Café" -> "cafe", "STRASSE" and "Straße" -> "strasse", "Ａ１" -> "a1"
//   unspaced     runs of Han, Kana, Hangul, Thai, ... characters become overlapping pairs:
//                "我们去北京" -> 我们 们去 去北 北京, so any two or more consecutive characters
//                of a run are found as a phrase of pairs. A document also indexes the run's
//                last character alone, at the position of the last pair, so a one-character
//                query (a prefix query: the character alone or as the first of a pair) finds
//                it anywhere in a run. A run of one character is that character.
//   separators   everything else ends a word or a run and is not indexed.
//
// Why pairs (the CJK bigram indexing of Lucene's CJKAnalyzer): no dictionary, every language,
// and a two-character word, the most common length in Chinese, is one token; SQLite's trigram
// tokenizer cannot find it.
//
// Input is UTF-8; an invalid byte is a separator. Words longer than max_token_bytes (folded)
// are cut at a character boundary, identically in documents and queries.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace monochat::storage::search {

enum class token_mode {
    document,  // also emits the last character of each unspaced run (colocated)
    query,     // pairs only, so that a phrase of pairs matches consecutive positions
};

enum class token_kind : std::uint8_t {
    word,    // a folded word
    pair,    // two characters of an unspaced run
    single,  // one character of an unspaced run
};

struct token {
    std::string_view text;  // folded UTF-8; valid only during the sink call
    std::size_t start = 0;  // byte offsets of the token's source text in the input
    std::size_t end = 0;
    bool colocated = false;  // at the position of the previous token (FTS5_TOKEN_COLOCATED)
    token_kind kind = token_kind::word;
};

inline constexpr std::size_t max_token_bytes = 128;

// A code point decoded from UTF-8: `cp` is invalid_code_point for a malformed sequence
// (overlong, surrogate, above U+10FFFF, truncated), and then `size` is 1.
struct decoded {
    char32_t cp = 0;
    std::size_t size = 1;
};
inline constexpr char32_t invalid_code_point = 0xFFFFFFFF;

decoded decode_utf8(std::string_view s, std::size_t i) noexcept;
bool is_valid_utf8(std::string_view s) noexcept;

// Calls `sink(ctx, token)` for every token in order; stops at and returns the first non-zero
// sink result, else 0.
using token_sink = int (*)(void* ctx, const token& t);
int tokenize(std::string_view text, token_mode mode, void* ctx, token_sink sink);

// The same with any callable `int(const token&)`.
template <class F>
int tokenize(std::string_view text, token_mode mode, F&& f) {
    using fn = std::remove_reference_t<F>;
    return tokenize(text, mode, const_cast<void*>(static_cast<const void*>(&f)),
                    [](void* ctx, const token& t) { return (*static_cast<fn*>(ctx))(t); });
}

// The token texts (tests, tools).
std::vector<std::string> token_texts(std::string_view text, token_mode mode);

}  // namespace monochat::storage::search
