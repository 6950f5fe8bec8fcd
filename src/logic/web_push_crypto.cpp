#include "logic/web_push_crypto.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <array>
#include <cstdint>
#include <vector>

#include "logic/sodium_init.hpp"

namespace monochat::logic::push_crypto {

namespace {

constexpr std::size_t public_key_bytes = 65;
constexpr std::size_t scalar_bytes = 32;
constexpr std::size_t auth_bytes = 16;
constexpr std::size_t salt_bytes = 16;
constexpr std::size_t tag_bytes = 16;
constexpr const char* curve = "prime256v1";

template <class T, void (*Free)(T*)>
struct deleter {
    void operator()(T* p) const { Free(p); }
};
using pkey_ctx = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using md_ctx = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using kdf_ptr = std::unique_ptr<EVP_KDF, deleter<EVP_KDF, EVP_KDF_free>>;
using kdf_ctx = std::unique_ptr<EVP_KDF_CTX, deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_free>>;
using param_bld = std::unique_ptr<OSSL_PARAM_BLD, deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using sig_ptr = std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::shared_ptr<EVP_PKEY> owned(EVP_PKEY* k) { return std::shared_ptr<EVP_PKEY>(k, EVP_PKEY_free); }

const unsigned char* bytes_of(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

error crypto_error(std::string_view what) {
    return make_error(errc::internal, "web push crypto: " + std::string(what));
}

result<std::string> encoded_public(EVP_PKEY* k) {
    std::array<unsigned char, 2 * public_key_bytes> buf{};
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf.data(),
                                        buf.size(), &len) != 1 ||
        len != public_key_bytes) {
        return crypto_error("cannot read a public key");
    }
    return std::string(reinterpret_cast<const char*>(buf.data()), len);
}

bool is_p256(EVP_PKEY* k) {
    if (EVP_PKEY_is_a(k, "EC") != 1) {
        return false;
    }
    std::array<char, 64> name{};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(),
                                       &len) != 1) {
        return false;
    }
    return std::string_view(name.data(), len) == curve;
}

// Builds a key from OSSL_PARAMs: the group, the public point and, for a key pair, the scalar.
std::shared_ptr<EVP_PKEY> from_params(std::string_view pub, const BIGNUM* priv) {
    param_bld bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, pub.data(),
                                         pub.size()) != 1 ||
        (priv != nullptr &&
         OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1)) {
        return nullptr;
    }
    params_ptr params(OSSL_PARAM_BLD_to_param(bld.get()));
    pkey_ctx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* k = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &k,
                          priv != nullptr ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                          params.get()) != 1) {
        return nullptr;
    }
    auto key = owned(k);
    // fromdata decodes the point; the check makes sure it lies on the curve.
    pkey_ctx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        return nullptr;
    }
    return key;
}

std::shared_ptr<EVP_PKEY> public_key_of(std::string_view pub) {
    if (pub.size() != public_key_bytes || static_cast<unsigned char>(pub[0]) != 0x04) {
        return nullptr;
    }
    return from_params(pub, nullptr);
}

// HKDF-SHA256 extract-and-expand (RFC 5869), as each step of RFC 8291 section 3.4 uses it.
result<std::string> hkdf(std::string_view salt, std::string_view ikm, std::string_view info,
                         std::size_t length) {
    kdf_ptr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
    if (!kdf) {
        return crypto_error("HKDF is not available");
    }
    kdf_ctx ctx(EVP_KDF_CTX_new(kdf.get()));
    if (!ctx) {
        return crypto_error("HKDF context");
    }
    std::array<OSSL_PARAM, 5> params{
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                          ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()),
                                          salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(info.data()),
                                          info.size()),
        OSSL_PARAM_construct_end()};
    std::string out(length, '\0');
    if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(),
                       params.data()) != 1) {
        return crypto_error("HKDF");
    }
    return out;
}

std::string info(std::string_view label, std::string_view context = {}) {
    std::string out(label);
    out.push_back('\0');
    out.append(context);
    return out;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    ensure_sodium();
    const auto variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    std::string out(sodium_base64_encoded_len(bytes.size(), variant), '\0');
    sodium_bin2base64(out.data(), out.size(), bytes_of(bytes), bytes.size(), variant);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    ensure_sodium();
    while (!text.empty() && text.back() == '=') {
        text.remove_suffix(1);
    }
    std::string out(text.size() * 3 / 4 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != text.data() + text.size()) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

bool valid_p256_public_key(std::string_view bytes) { return public_key_of(bytes) != nullptr; }

result<p256_key> p256_key::generate() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve);
    if (k == nullptr) {
        return crypto_error("cannot make a P-256 key");
    }
    auto key = owned(k);
    auto pub = encoded_public(key.get());
    if (!pub) {
        return pub.error();
    }
    return p256_key(std::move(key), std::move(*pub));
}

result<p256_key> p256_key::from_pem(std::string_view pem) {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) {
        return crypto_error("BIO");
    }
    EVP_PKEY* k = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    if (k == nullptr) {
        return make_error(errc::invalid_argument, "not a PEM private key");
    }
    auto key = owned(k);
    if (!is_p256(key.get())) {
        return make_error(errc::invalid_argument, "not a P-256 key");
    }
    auto pub = encoded_public(key.get());
    if (!pub) {
        return pub.error();
    }
    return p256_key(std::move(key), std::move(*pub));
}

result<p256_key> p256_key::from_raw(std::string_view private_scalar, std::string_view public_key) {
    if (private_scalar.size() != scalar_bytes || public_key.size() != public_key_bytes) {
        return make_error(errc::invalid_argument, "a P-256 key is 32 and 65 bytes");
    }
    bn_ptr priv(BN_bin2bn(bytes_of(private_scalar), static_cast<int>(private_scalar.size()),
                          nullptr));
    if (!priv) {
        return crypto_error("BIGNUM");
    }
    auto key = from_params(public_key, priv.get());
    if (!key) {
        return make_error(errc::invalid_argument, "not a P-256 key pair");
    }
    return p256_key(std::move(key), std::string(public_key));
}

result<std::string> p256_key::private_pem() const {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key_.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
        return crypto_error("cannot write the key");
    }
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

result<std::string> p256_key::sign_jwt(std::string_view claims_json) const {
    const std::string input =
        base64url_encode(R"({"typ":"JWT","alg":"ES256"})") + "." + base64url_encode(claims_json);
    md_ctx md(EVP_MD_CTX_new());
    std::size_t der_len = 0;
    if (!md ||
        EVP_DigestSignInit_ex(md.get(), nullptr, "SHA256", nullptr, nullptr, key_.get(),
                              nullptr) != 1 ||
        EVP_DigestSign(md.get(), nullptr, &der_len, bytes_of(input), input.size()) != 1) {
        return crypto_error("ES256 sign");
    }
    std::vector<unsigned char> der(der_len);
    if (EVP_DigestSign(md.get(), der.data(), &der_len, bytes_of(input), input.size()) != 1) {
        return crypto_error("ES256 sign");
    }
    // JWS wants r || s, 32 bytes each; OpenSSL answers a DER SEQUENCE of two INTEGERs.
    const unsigned char* p = der.data();
    sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
    if (!sig) {
        return crypto_error("ES256 signature");
    }
    std::array<unsigned char, 2 * scalar_bytes> raw{};
    if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), raw.data(), scalar_bytes) !=
            static_cast<int>(scalar_bytes) ||
        BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), raw.data() + scalar_bytes, scalar_bytes) !=
            static_cast<int>(scalar_bytes)) {
        return crypto_error("ES256 signature");
    }
    return input + "." +
           base64url_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
}

result<std::string> p256_key::shared_secret(std::string_view peer_public) const {
    auto peer = public_key_of(peer_public);
    if (!peer) {
        return make_error(errc::invalid_argument, "not a P-256 public key");
    }
    pkey_ctx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
    std::size_t len = 0;
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
        EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
        EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) {
        return crypto_error("ECDH");
    }
    std::string out(len, '\0');
    if (EVP_PKEY_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len) != 1) {
        return crypto_error("ECDH");
    }
    out.resize(len);
    return out;
}

result<std::string> encrypt(std::string_view plaintext, std::string_view ua_public,
                            std::string_view auth_secret, const p256_key* sender,
                            std::optional<std::string> salt) {
    if (auth_secret.size() != auth_bytes) {
        return make_error(errc::invalid_argument, "the auth secret is 16 bytes");
    }
    if (plaintext.size() > max_plaintext) {
        return make_error(errc::invalid_argument, "a push holds at most 4079 bytes");
    }
    std::optional<p256_key> fresh;
    if (sender == nullptr) {
        auto k = p256_key::generate();
        if (!k) {
            return k.error();
        }
        fresh.emplace(std::move(*k));
        sender = &*fresh;
    }
    if (!salt) {
        salt.emplace(salt_bytes, '\0');
        if (RAND_bytes(reinterpret_cast<unsigned char*>(salt->data()),
                       static_cast<int>(salt_bytes)) != 1) {
            return crypto_error("random salt");
        }
    }
    if (salt->size() != salt_bytes) {
        return make_error(errc::invalid_argument, "the salt is 16 bytes");
    }
    auto ecdh = sender->shared_secret(ua_public);
    if (!ecdh) {
        return ecdh.error();
    }
    // RFC 8291 section 3.4: the input keying material from the ECDH secret and the auth
    // secret, bound to both public keys; then RFC 8188's content key and nonce.
    std::string key_context(ua_public);
    key_context += sender->public_key();
    auto ikm = hkdf(auth_secret, *ecdh, info("WebPush: info", key_context), 32);
    if (!ikm) {
        return ikm.error();
    }
    auto cek = hkdf(*salt, *ikm, info("Content-Encoding: aes128gcm"), 16);
    auto nonce = hkdf(*salt, *ikm, info("Content-Encoding: nonce"), 12);
    if (!cek || !nonce) {
        return crypto_error("HKDF");
    }
    // One record: the plaintext and the last-record delimiter 0x02, no padding.
    std::string record(plaintext);
    record.push_back('\x02');

    // The header (RFC 8188 section 2.1): salt, record size, keyid = the sender's public key.
    std::string out = *salt;
    const auto rs = static_cast<std::uint32_t>(record_size);
    for (int shift = 24; shift >= 0; shift -= 8) {
        out.push_back(static_cast<char>((rs >> shift) & 0xff));
    }
    out.push_back(static_cast<char>(public_key_bytes));
    out += sender->public_key();

    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    const std::size_t at = out.size();
    out.resize(at + record.size() + tag_bytes);
    auto* dst = reinterpret_cast<unsigned char*>(out.data() + at);
    int n = 0;
    int fin = 0;
    if (!ctx ||
        EVP_EncryptInit_ex2(ctx.get(), EVP_aes_128_gcm(), bytes_of(*cek), bytes_of(*nonce),
                            nullptr) != 1 ||
        EVP_EncryptUpdate(ctx.get(), dst, &n, bytes_of(record), static_cast<int>(record.size())) !=
            1 ||
        EVP_EncryptFinal_ex(ctx.get(), dst + n, &fin) != 1 ||
        static_cast<std::size_t>(n + fin) != record.size() ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_bytes),
                            dst + record.size()) != 1) {
        return crypto_error("AES-128-GCM");
    }
    return out;
}

}  // namespace monochat::logic::push_crypto
