#include "storage/search_query.hpp"

#include <algorithm>

#include "storage/search_tokenizer.hpp"

namespace monochat::storage {

namespace {

using search::decode_utf8;

bool is_space(char32_t cp) noexcept {
    // Controls count as space: they can never be part of a term (NUL would end FTS5's text).
    return cp <= 0x20 || cp == 0x7F || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

struct raw_term {
    std::string text;
    bool prefix = false;
};

// Splits on white space outside quotes; a quote opens and closes a phrase.
std::vector<raw_term> split_terms(std::string_view q) {
    std::vector<raw_term> out;
    raw_term current;
    bool in_phrase = false;
    bool open = false;  // `current` has started (a word, or a phrase even if empty)
    const auto finish = [&] {
        if (open) {
            out.push_back(std::move(current));
        }
        current = raw_term{};
        open = false;
    };
    for (std::size_t i = 0; i < q.size();) {
        const auto d = decode_utf8(q, i);
        const std::string_view bytes = q.substr(i, d.size);
        i += d.size;
        if (d.cp == '"') {
            if (in_phrase) {
                in_phrase = false;
                // A star right after the closing quote makes the phrase's last word a prefix.
                std::size_t stars = 0;
                while (i + stars < q.size() && q[i + stars] == '*') {
                    ++stars;
                }
                current.prefix = stars > 0;
                i += stars;
                finish();
            } else {
                finish();
                in_phrase = true;
                open = true;
            }
            continue;
        }
        if (is_space(d.cp)) {
            if (in_phrase) {
                current.text += ' ';
            } else {
                finish();
            }
            continue;
        }
        open = true;
        current.text += bytes;
    }
    finish();
    // Trailing stars of a word make it a prefix; a star elsewhere is punctuation, which the
    // tokenizer drops.
    for (auto& t : out) {
        if (t.prefix) {
            continue;
        }
        const auto last = t.text.find_last_not_of('*');
        if (last != std::string::npos && last + 1 < t.text.size()) {
            t.text.resize(last + 1);
            t.prefix = true;
        }
    }
    return out;
}

}  // namespace

result<search_query> parse_search_query(std::string_view text) {
    if (text.size() > max_search_query_bytes) {
        return make_error(errc::invalid_argument,
                          "q is longer than " + std::to_string(max_search_query_bytes) + " bytes");
    }
    if (!search::is_valid_utf8(text)) {
        return make_error(errc::invalid_argument, "q is not valid UTF-8");
    }
    bool blank = true;
    for (std::size_t i = 0; i < text.size() && blank;) {
        const auto d = decode_utf8(text, i);
        blank = is_space(d.cp);
        i += d.size;
    }
    if (blank) {
        return make_error(errc::invalid_argument, "q must not be empty");
    }
    search_query out;
    for (auto& raw : split_terms(text)) {
        std::size_t count = 0;
        search::token_kind last = search::token_kind::word;
        search::tokenize(raw.text, search::token_mode::query, [&](const search::token& t) {
            ++count;
            last = t.kind;
            return 0;
        });
        if (count == 0) {
            continue;  // punctuation or emoji alone: nothing the index could hold
        }
        // One character of an unspaced script is indexed alone only at the end of a run, and
        // otherwise as the first of a pair: a prefix query finds both.
        if (last == search::token_kind::single) {
            raw.prefix = true;
        }
        const bool seen = std::any_of(out.terms.begin(), out.terms.end(), [&](const search_term& t) {
            return t.text == raw.text && t.prefix == raw.prefix;
        });
        if (!seen) {
            out.terms.push_back({std::move(raw.text), raw.prefix});
        }
    }
    if (out.terms.size() > max_search_terms) {
        return make_error(errc::invalid_argument,
                          "q has more than " + std::to_string(max_search_terms) + " terms");
    }
    return out;
}

namespace search {

std::string fts5_match(const search_query& query) {
    std::string out;
    for (const auto& t : query.terms) {
        if (!out.empty()) {
            out += " AND ";
        }
        out += '"';
        for (const char c : t.text) {
            // Inside an FTS5 string a quote is written twice; nothing else is special.
            if (c == '"') {
                out += '"';
            }
            out += c;
        }
        out += '"';
        if (t.prefix) {
            out += " *";
        }
    }
    return out;
}

}  // namespace search

}  // namespace monochat::storage
