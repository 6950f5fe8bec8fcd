#pragma once
// Bearer tokens: 256 bits from libsodium's CSPRNG, sent as 64 lowercase hex digits. The server
// keeps only their SHA-256 (32 raw bytes), so a copy of the database holds nothing that logs
// anyone in. Neither a token nor its hash is ever logged.

#include <cstddef>
#include <string>
#include <string_view>

namespace monochat::logic {

inline constexpr std::size_t token_random_bytes = 32;
inline constexpr std::size_t token_text_bytes = 2 * token_random_bytes;

// A fresh token: 64 lowercase hex digits.
[[nodiscard]] std::string new_token();

// 64 lowercase hex digits; anything else can never match and is refused without a lookup.
[[nodiscard]] bool is_well_formed_token(std::string_view token) noexcept;

// The stored form: SHA-256 of the token text, 32 raw bytes.
[[nodiscard]] std::string hash_token(std::string_view token);

}  // namespace monochat::logic
