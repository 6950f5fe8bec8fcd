#include <monochat/logic/validation.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>

#include "logic/utf8.hpp"

namespace monochat::logic {

namespace {

error invalid(std::string message) { return make_error(errc::invalid_argument, std::move(message)); }


bool is_control(long cp) noexcept { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): in a name
// they reorder what is shown after them, so "Bob\u202E" + text can pass for another name.
bool is_bidi_control(long cp) noexcept {
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Valid UTF-8 whose code points all pass `allowed`.
template <class Pred>
bool all_code_points(std::string_view s, Pred allowed) noexcept {
    std::size_t i = 0;
    while (i < s.size()) {
        const long cp = next_code_point(s, i);
        if (cp < 0 || !allowed(cp)) {
            return false;
        }
    }
    return true;
}

status validate_label(std::string_view text, std::string_view field, std::size_t max_bytes) {
    if (text.empty() || text.size() > max_bytes) {
        return invalid(std::string(field) + " must be 1 to " + std::to_string(max_bytes) +
                       " bytes");
    }
    if (!all_code_points(text, [](long cp) { return !is_control(cp); })) {
        return invalid(std::string(field) + " must be UTF-8 text without control characters");
    }
    if (!all_code_points(text, [](long cp) { return !is_bidi_control(cp); })) {
        return invalid(std::string(field) +
                       " must not contain bidirectional override or isolate characters");
    }
    return {};
}

}  // namespace

bool is_valid_utf8(std::string_view text) noexcept {
    return all_code_points(text, [](long) { return true; });
}

status validate_username(std::string_view username) {
    if (username.size() < min_username_bytes || username.size() > max_username_bytes) {
        return invalid("username must be 3 to 32 characters");
    }
    for (const char c : username) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '.' || c == '-';
        if (!ok) {
            return invalid("username may only contain a-z, 0-9, '_', '.' and '-'");
        }
    }
    return {};
}

status validate_password(std::string_view password) {
    if (password.size() < min_password_bytes || password.size() > max_password_bytes) {
        return invalid("password must be 8 to 128 bytes");
    }
    if (!is_valid_utf8(password)) {
        return invalid("password must be UTF-8 text");
    }
    return {};
}

status validate_display_name(std::string_view display_name) {
    return validate_label(display_name, "display_name", max_display_name_bytes);
}

status validate_group_name(std::string_view name) {
    return validate_label(name, "name", max_group_name_bytes);
}

status validate_note(std::string_view note) {
    if (note.size() > max_note_bytes) {
        return invalid("note must be at most 256 bytes");
    }
    if (!all_code_points(note,
                         [](long cp) { return cp == '\n' || cp == '\t' || !is_control(cp); })) {
        return invalid("note must be UTF-8 text without control characters");
    }
    return {};
}

status validate_group_description(std::string_view description) {
    if (description.size() > max_group_description_bytes) {
        return invalid("description must be at most 1024 bytes");
    }
    if (!all_code_points(description,
                         [](long cp) { return cp == '\n' || cp == '\t' || !is_control(cp); })) {
        return invalid("description must be UTF-8 text without control characters");
    }
    return {};
}

bool named_admin(const std::vector<std::string>& admins, std::string_view username) {
    const auto same = [username](const std::string& name) {
        return name.size() == username.size() &&
               std::equal(name.begin(), name.end(), username.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) ==
                          std::tolower(static_cast<unsigned char>(b));
               });
    };
    return std::any_of(admins.begin(), admins.end(), same);
}

result<std::size_t> parse_limit(std::optional<std::string_view> text) {
    if (!text) {
        return default_page_limit;
    }
    std::string_view t = *text;
    const auto bad = [] { return invalid("limit must be a positive integer"); };
    bool negative = false;
    if (!t.empty() && (t.front() == '-' || t.front() == '+')) {
        negative = t.front() == '-';
        t.remove_prefix(1);
    }
    if (t.empty() || t.find_first_not_of("0123456789") != std::string_view::npos) {
        return bad();
    }
    while (t.size() > 1 && t.front() == '0') {
        t.remove_prefix(1);
    }
    if (t == "0" || negative) {
        return bad();
    }
    // Any number with more digits than the maximum is above it: clamp without converting.
    if (t.size() > 3) {
        return max_page_limit;
    }
    const auto v = static_cast<std::size_t>(std::stoul(std::string(t)));
    return v > max_page_limit ? max_page_limit : v;
}

result<std::uint64_t> parse_number(std::string_view text, std::string_view what) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc{} || ptr != end) {
        return invalid(std::string(what) + " must be a non-negative integer");
    }
    return v;
}

}  // namespace monochat::logic
