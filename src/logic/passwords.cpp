#include "logic/passwords.hpp"

#include "logic/sodium_init.hpp"

namespace monochat::logic {

result<std::string> hash_password(std::string_view password, argon2_cost cost) {
    ensure_sodium();
    if (cost.ops < crypto_pwhash_argon2id_OPSLIMIT_MIN ||
        cost.memory_bytes < crypto_pwhash_argon2id_MEMLIMIT_MIN) {
        return make_error(errc::invalid_argument, "argon2 cost below libsodium's minimum");
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops, cost.memory_bytes,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return make_error(errc::unavailable, "password hashing ran out of memory");
    }
    return std::string(out);
}

bool verify_password(std::string_view encoded, std::string_view password) {
    ensure_sodium();
    // libsodium reads a NUL-terminated string of at most STRBYTES.
    if (encoded.empty() || encoded.size() >= crypto_pwhash_STRBYTES) {
        return false;
    }
    char buf[crypto_pwhash_STRBYTES] = {};
    encoded.copy(buf, encoded.size());
    return crypto_pwhash_str_verify(buf, password.data(), password.size()) == 0;
}

}  // namespace monochat::logic
