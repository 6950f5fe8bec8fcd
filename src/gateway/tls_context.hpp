#pragma once
// TLS for the listener: building an OpenSSL server context from PEM files, and the context
// snapshot that new connections take. Included only by http_server.cpp and tls_context.cpp
// (OpenSSL's headers are heavy and nobody else needs them).

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <monochat/infra/config.hpp>
#include <monochat/infra/result.hpp>
#include <string>

namespace monochat::gateway {

// What a new connection needs to know about TLS, swapped whole by a reload.
struct tls_settings {
    std::shared_ptr<boost::asio::ssl::context> context;  // null: TLS off
    bool allow_plain = true;  // with a context: plain HTTP/WS on the same port too
    std::string cert_file;    // for logs
};

// Reads the certificate chain and private key (PEM) into a new server context: TLS 1.2 and
// 1.3 only, the server's cipher preference, no compression or renegotiation. Errors:
// invalid_argument naming server.tls.cert_file or server.tls.key_file and OpenSSL's reason (a
// missing or unreadable file, a key that does not match the certificate).
[[nodiscard]] result<std::shared_ptr<boost::asio::ssl::context>> load_tls_context(
    const infra::tls_options& tls);

}  // namespace monochat::gateway
