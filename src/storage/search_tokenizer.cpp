#include "storage/search_tokenizer.hpp"

#include "storage/search_unicode.hpp"

namespace monochat::storage::search {

decoded decode_utf8(std::string_view s, std::size_t i) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char b0 = byte(i);
    if (b0 < 0x80) {
        return {b0, 1};
    }
    std::size_t n = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
        n = 2;
        cp = b0 & 0x1F;
        min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
        n = 3;
        cp = b0 & 0x0F;
        min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
        n = 4;
        cp = b0 & 0x07;
        min = 0x10000;
    } else {
        return {invalid_code_point, 1};  // a continuation byte or 0xF8..0xFF
    }
    if (i + n > s.size()) {
        return {invalid_code_point, 1};
    }
    for (std::size_t k = 1; k < n; ++k) {
        const unsigned char b = byte(i + k);
        if ((b & 0xC0) != 0x80) {
            return {invalid_code_point, 1};
        }
        cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms and surrogates are refused as RFC 3629 says: they are how filters are
    // bypassed, and SQLite would store them as given.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return {invalid_code_point, 1};
    }
    return {cp, n};
}

bool is_valid_utf8(std::string_view s) noexcept {
    for (std::size_t i = 0; i < s.size();) {
        const auto d = decode_utf8(s, i);
        if (d.cp == invalid_code_point) {
            return false;
        }
        i += d.size;
    }
    return true;
}

namespace {

// One character of an unspaced run: its folded bytes in `run_text`, its source bytes.
struct run_char {
    std::size_t offset = 0;
    std::size_t size = 0;
    std::size_t start = 0;
    std::size_t end = 0;
};

class tokenizer {
public:
    tokenizer(std::string_view text, token_mode mode, void* ctx, token_sink sink)
        : text_(text), mode_(mode), ctx_(ctx), sink_(sink) {}

    int run() {
        for (std::size_t i = 0; i < text_.size();) {
            const auto d = decode_utf8(text_, i);
            const char_class cls =
                d.cp == invalid_code_point ? char_class::separator : classify(d.cp);
            int rc = 0;
            switch (cls) {
                case char_class::separator:
                    rc = flush_word();
                    if (rc == 0) {
                        rc = flush_run();
                    }
                    break;
                case char_class::ignore:
                    // An accent or joiner belongs to the character before it.
                    if (word_open_) {
                        word_end_ = i + d.size;
                    } else if (!run_.empty()) {
                        run_.back().end = i + d.size;
                    }
                    break;
                case char_class::word:
                    rc = flush_run();
                    add_word_char(d.cp, i, d.size);
                    break;
                case char_class::bigram:
                    rc = flush_word();
                    add_run_char(d.cp, i, d.size);
                    break;
            }
            if (rc != 0) {
                return rc;
            }
            i += d.size;
        }
        const int rc = flush_word();
        return rc != 0 ? rc : flush_run();
    }

private:
    void add_word_char(char32_t cp, std::size_t at, std::size_t size) {
        if (!word_open_) {
            word_open_ = true;
            word_start_ = at;
            word_.clear();
            word_full_ = false;
        }
        word_end_ = at + size;
        if (word_full_) {
            return;
        }
        if (cp < 0x80) {
            if (word_.size() + 1 > max_token_bytes) {
                word_full_ = true;
                return;
            }
            const char c = static_cast<char>(cp);
            word_ += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
            return;
        }
        std::string_view piece = fold(cp);
        if (piece.empty()) {
            piece = text_.substr(at, size);
        }
        if (word_.size() + piece.size() > max_token_bytes) {
            word_full_ = true;
            return;
        }
        word_ += piece;
    }

    void add_run_char(char32_t cp, std::size_t at, std::size_t size) {
        std::string_view piece = fold(cp);
        if (piece.empty()) {
            piece = text_.substr(at, size);
        }
        run_.push_back({run_text_.size(), piece.size(), at, at + size});
        run_text_ += piece;
    }

    int emit(std::string_view text, std::size_t start, std::size_t end, bool colocated,
             token_kind kind) {
        const token t{text, start, end, colocated, kind};
        return sink_(ctx_, t);
    }

    int flush_word() {
        if (!word_open_) {
            return 0;
        }
        word_open_ = false;
        return emit(word_, word_start_, word_end_, false, token_kind::word);
    }

    int flush_run() {
        if (run_.empty()) {
            return 0;
        }
        int rc = 0;
        const std::string_view all = run_text_;
        if (run_.size() == 1) {
            const auto& c = run_.front();
            rc = emit(all.substr(c.offset, c.size), c.start, c.end, false, token_kind::single);
        } else {
            // A pair's folded bytes are contiguous in run_text_: characters were appended in order.
            for (std::size_t k = 0; rc == 0 && k + 1 < run_.size(); ++k) {
                const auto& a = run_[k];
                const auto& b = run_[k + 1];
                rc = emit(all.substr(a.offset, a.size + b.size), a.start, b.end, false,
                          token_kind::pair);
            }
            if (rc == 0 && mode_ == token_mode::document) {
                const auto& c = run_.back();
                rc = emit(all.substr(c.offset, c.size), c.start, c.end, true, token_kind::single);
            }
        }
        run_.clear();
        run_text_.clear();
        return rc;
    }

    std::string_view text_;
    token_mode mode_;
    void* ctx_;
    token_sink sink_;

    std::string word_;
    bool word_open_ = false;
    bool word_full_ = false;
    std::size_t word_start_ = 0;
    std::size_t word_end_ = 0;

    std::vector<run_char> run_;
    std::string run_text_;
};

}  // namespace

int tokenize(std::string_view text, token_mode mode, void* ctx, token_sink sink) {
    tokenizer t(text, mode, ctx, sink);
    return t.run();
}

std::vector<std::string> token_texts(std::string_view text, token_mode mode) {
    std::vector<std::string> out;
    tokenize(text, mode, [&out](const token& t) {
        out.emplace_back(t.text);
        return 0;
    });
    return out;
}

}  // namespace monochat::storage::search
