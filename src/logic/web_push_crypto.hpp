#pragma once
// The cryptography of Web Push, private to logic (push_service.cpp): VAPID (RFC 8292: an ES256
// JWT and the server's P-256 key) and the aes128gcm message encryption of RFC 8291 (ECDH on
// P-256, HKDF-SHA256, AES-128-GCM). Every primitive is OpenSSL 3's (EVP); this file only
// arranges them as the RFCs say.
//
// Thread-safety: a vapid_key is immutable after construction and may be shared; the free
// functions are reentrant.

#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <string_view>

struct evp_pkey_st;

namespace monochat::logic::push_crypto {

// base64url without padding (RFC 4648 section 5), as VAPID and PushSubscription use it.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
// Accepts base64url with or without '=' padding; nullopt when malformed.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

// Whether `bytes` is an uncompressed P-256 public key (65 bytes, 0x04, a point on the curve).
[[nodiscard]] bool valid_p256_public_key(std::string_view bytes);

// A P-256 key pair: the server's VAPID key, or an ephemeral key of one message.
class p256_key {
public:
    // A fresh random key. Errors: internal.
    [[nodiscard]] static result<p256_key> generate();
    // From a PEM private key (what private_pem wrote). Errors: invalid_argument (not a P-256
    // private key).
    [[nodiscard]] static result<p256_key> from_pem(std::string_view pem);
    // From the raw private scalar (32 bytes) and its public key (65 bytes): test vectors.
    // Errors: invalid_argument.
    [[nodiscard]] static result<p256_key> from_raw(std::string_view private_scalar,
                                                   std::string_view public_key);

    // PKCS#8 PEM of the private key.
    [[nodiscard]] result<std::string> private_pem() const;
    // The uncompressed public key (65 bytes).
    [[nodiscard]] const std::string& public_key() const { return public_; }
    // An ES256 JWT (RFC 7515/7518) over `claims_json`: header.claims.signature, base64url.
    // Errors: internal.
    [[nodiscard]] result<std::string> sign_jwt(std::string_view claims_json) const;
    // ECDH with a peer's uncompressed public key: the shared x coordinate (32 bytes).
    // Errors: invalid_argument (not a P-256 point), internal.
    [[nodiscard]] result<std::string> shared_secret(std::string_view peer_public) const;

private:
    p256_key(std::shared_ptr<evp_pkey_st> key, std::string pub)
        : key_(std::move(key)), public_(std::move(pub)) {}

    std::shared_ptr<evp_pkey_st> key_;
    std::string public_;
};

// The RFC 8291 record size written into the header: one record holds a push.
inline constexpr std::size_t record_size = 4096;
// The largest plaintext one record carries (record size - the delimiter - the GCM tag).
inline constexpr std::size_t max_plaintext = record_size - 1 - 16;

// Encrypts `plaintext` for a subscription (its p256dh key and auth secret) as one aes128gcm
// record (RFC 8188 header with the sender's ephemeral public key as keyid). `sender` and `salt`
// are fresh random ones unless given (test vectors). Errors: invalid_argument (a key of the
// wrong size or not on the curve, plaintext over max_plaintext), internal.
[[nodiscard]] result<std::string> encrypt(std::string_view plaintext, std::string_view ua_public,
                                          std::string_view auth_secret,
                                          const p256_key* sender = nullptr,
                                          std::optional<std::string> salt = std::nullopt);

}  // namespace monochat::logic::push_crypto
