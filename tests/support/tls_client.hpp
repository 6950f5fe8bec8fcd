#pragma once
// TLS for integration tests: self-signed certificates made with OpenSSL's API (no `openssl`
// command needed), one-shot HTTPS requests, and a small WSS client. Every operation has a
// deadline; the server's certificate is verified against the PEM the test trusts, and the
// certificate it presented is reported so that a test can see a renewal.

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "support/http_client.hpp"

namespace monochat::test {

struct test_certificate {
    std::string cert_pem;
    std::string key_pem;
};

// A self-signed P-256 certificate for `common_name`, valid for localhost and 127.0.0.1 from
// an hour ago for `days`.
test_certificate make_self_signed(const std::string& common_name, long serial, int days = 1);

// Writes `text` to `path` (replacing it).
void write_text_file(const std::string& path, const std::string& text);

// The certificate a server presented.
struct tls_peer {
    std::string common_name;
    long serial = 0;
};

struct https_reply : http_reply {
    tls_peer peer;
};

// One request on a fresh TLS connection (Connection: close). Throws std::runtime_error when
// the connection, the handshake (including verification against `trusted_pem`) or the
// exchange fails or times out.
https_reply https_request(const std::string& host, int port, const std::string& trusted_pem,
                         const std::string& method, const std::string& target,
                         const std::optional<std::string>& body = std::nullopt,
                         const std::string& token = {},
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A WebSocket over TLS, used from the test thread only. Throws on a failed connection or
// handshake (with the HTTP status of a refusal in the message).
class wss_client {
public:
    wss_client(const std::string& host, int port, const std::string& token,
               const std::string& trusted_pem);
    ~wss_client();
    wss_client(const wss_client&) = delete;
    wss_client& operator=(const wss_client&) = delete;

    void send(const nlohmann::json& frame);
    // The next frame, or nullopt after `timeout` or once the connection closed.
    std::optional<nlohmann::json> recv(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    // The next frame of `type`, skipping others; throws after `timeout`.
    nlohmann::json expect(const std::string& type,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

    const nlohmann::json& hello() const { return hello_; }
    const tls_peer& peer() const { return peer_; }

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    nlohmann::json hello_;
    tls_peer peer_;
};

}  // namespace monochat::test
