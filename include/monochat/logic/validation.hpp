#pragma once
// Input rules of the accounts, friends and groups API (shared/protocol.md, docs/protocol.md).
// Every length counts bytes of UTF-8. Each check answers invalid_argument with a message that
// names the field and the rule, and never echoes the value (it may be a password).

#include <cstddef>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::logic {

inline constexpr std::size_t min_username_bytes = 3;
inline constexpr std::size_t max_username_bytes = 32;
inline constexpr std::size_t min_password_bytes = 8;
inline constexpr std::size_t max_password_bytes = 128;
inline constexpr std::size_t max_display_name_bytes = 64;
inline constexpr std::size_t max_group_name_bytes = 64;
inline constexpr std::size_t max_note_bytes = 256;
inline constexpr std::size_t max_group_description_bytes = 1024;
inline constexpr std::size_t default_page_limit = 50;
inline constexpr std::size_t max_page_limit = 200;

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

// 3 to 32 bytes of `a-z 0-9 _ . -`.
[[nodiscard]] status validate_username(std::string_view username);
// 8 to 128 bytes of valid UTF-8; any character is allowed.
[[nodiscard]] status validate_password(std::string_view password);
// 1 to 64 bytes of valid UTF-8 without control characters (C0, DEL, C1).
[[nodiscard]] status validate_display_name(std::string_view display_name);
// The same rule as display names: 1 to 64 bytes without control characters.
[[nodiscard]] status validate_group_name(std::string_view name);
// 0 to 256 bytes of valid UTF-8; line feeds and tabs allowed, other control characters not.
[[nodiscard]] status validate_note(std::string_view note);
// The rule of notes, up to 1024 bytes.
[[nodiscard]] status validate_group_description(std::string_view description);

// Whether `username` is one of `admins` (auth.admins); letters compared without case, so an
// operator's "Alice" names alice.
[[nodiscard]] bool named_admin(const std::vector<std::string>& admins, std::string_view username);

// A `limit` query parameter: absent gives 50; a positive decimal integer is clamped to 200;
// zero, a negative number or anything that is not a decimal integer is invalid_argument.
[[nodiscard]] result<std::size_t> parse_limit(std::optional<std::string_view> text);

// A non-negative decimal integer that fits 64 bits (a `seq` or an `after` position), digits
// only; anything else is invalid_argument naming `what`.
[[nodiscard]] result<std::uint64_t> parse_number(std::string_view text, std::string_view what);

}  // namespace monochat::logic
