#include <monochat/logic/tokens.hpp>

#include "logic/sodium_init.hpp"

namespace monochat::logic {

std::string new_token() {
    ensure_sodium();
    unsigned char raw[token_random_bytes];
    randombytes_buf(raw, sizeof raw);
    std::string hex(token_text_bytes + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
    hex.resize(token_text_bytes);
    return hex;
}

bool is_well_formed_token(std::string_view token) noexcept {
    if (token.size() != token_text_bytes) {
        return false;
    }
    for (const char c : token) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::string hash_token(std::string_view token) {
    ensure_sodium();
    std::string out(crypto_hash_sha256_BYTES, '\0');
    crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()),
                       reinterpret_cast<const unsigned char*>(token.data()), token.size());
    return out;
}

}  // namespace monochat::logic
