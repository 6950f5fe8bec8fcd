#include "gateway/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace monochat::gateway {

namespace ssl = boost::asio::ssl;

namespace {

error tls_error(const std::string& key, const std::string& path, std::string reason) {
    // Asio's message for OpenSSL errors is often just the library name; the queue has more.
    if (const unsigned long e = ERR_peek_last_error(); e != 0) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        reason = buf;
    }
    ERR_clear_error();
    return make_error(errc::invalid_argument, key + ": cannot use " + path + ": " + reason);
}

}  // namespace

result<std::shared_ptr<ssl::context>> load_tls_context(const infra::tls_options& tls) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    boost::system::error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                     ec);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_options(
        native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    ERR_clear_error();
    ctx->use_certificate_chain_file(tls.cert_file, ec);
    if (ec) {
        return tls_error("server.tls.cert_file", tls.cert_file, ec.message());
    }
    ctx->use_private_key_file(tls.key_file, ssl::context::pem, ec);
    if (ec) {
        return tls_error("server.tls.key_file", tls.key_file, ec.message());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
        return tls_error("server.tls.key_file", tls.key_file,
                         "the private key does not match the certificate");
    }
    return ctx;
}

}  // namespace monochat::gateway
