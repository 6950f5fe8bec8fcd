#pragma once
// Argon2id password hashing through libsodium (crypto_pwhash_str_alg / _str_verify). Both calls
// are deliberately slow and block the calling thread: run them on the accounts service's
// hashing pool, never on a network thread. Private to logic.

#include <cstddef>
#include <cstdint>
#include <monochat/infra/result.hpp>
#include <string>
#include <string_view>

namespace monochat::logic {

struct argon2_cost {
    std::uint64_t ops = 2;                    // auth.argon2_ops
    std::size_t memory_bytes = 19ULL << 20;  // auth.argon2_memory_kib * 1024

    friend bool operator==(const argon2_cost&, const argon2_cost&) = default;
};

// The encoded hash (`$argon2id$v=19$m=...,t=...,p=1$salt$hash`, salt random per call).
// Errors: unavailable (out of memory), invalid_argument (cost outside libsodium's range).
[[nodiscard]] result<std::string> hash_password(std::string_view password, argon2_cost cost);

// Whether `password` matches `encoded`; false for an empty or malformed hash.
[[nodiscard]] bool verify_password(std::string_view encoded, std::string_view password);

}  // namespace monochat::logic
