#include "support/tls_client.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <cctype>
#include <deque>
#include <fstream>
#include <stdexcept>

namespace monochat::test {

namespace net = boost::asio;
namespace ssl = net::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {

template <class T, void (*Free)(T*)>
struct ossl_deleter {
    void operator()(T* p) const { Free(p); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, ossl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, ossl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, ossl_deleter<BIO, BIO_free_all>>;

void check(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("openssl: ") + what);
    }
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(n));
}

void add_extension(X509* cert, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    check(ext != nullptr, "extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

tls_peer peer_of(SSL* ssl) {
    tls_peer p;
    x509_ptr cert(SSL_get1_peer_certificate(ssl));
    if (!cert) {
        return p;
    }
    char cn[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof cn);
    p.common_name = cn;
    p.serial = ASN1_INTEGER_get(X509_get_serialNumber(cert.get()));
    return p;
}

ssl::context client_context(const std::string& trusted_pem) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.add_certificate_authority(net::buffer(trusted_pem));
    ctx.set_verify_mode(ssl::verify_peer);
    return ctx;
}

// Runs the asynchronous operation `start` begins until it completes or `timeout` passes
// (then the socket is closed, which ends it). Returns its error code.
template <class Socket, class Start>
beast::error_code run_with_deadline(net::io_context& ioc, Socket& socket,
                                    std::chrono::milliseconds timeout, Start start) {
    beast::error_code result;
    bool done = false;
    start([&](beast::error_code ec) {
        result = ec;
        done = true;
    });
    ioc.restart();
    ioc.run_for(timeout);
    if (!done) {
        beast::error_code ignored;
        socket.close(ignored);
        ioc.restart();
        ioc.run();
        return net::error::timed_out;
    }
    return result;
}

void fail(const std::string& what, const beast::error_code& ec) {
    throw std::runtime_error(what + ": " + ec.message());
}

}  // namespace

test_certificate make_self_signed(const std::string& common_name, long serial, int days) {
    pkey_ptr key(EVP_EC_gen("P-256"));
    check(key != nullptr, "EC key");
    x509_ptr cert(X509_new());
    check(cert != nullptr, "X509_new");
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400L * days);
    X509_set_pubkey(cert.get(), key.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert.get(), name);
    add_extension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "sign");

    test_certificate out;
    bio_ptr cb(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_X509(cb.get(), cert.get()) == 1, "write certificate");
    out.cert_pem = bio_text(cb.get());
    bio_ptr kb(BIO_new(BIO_s_mem()));
    check(PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1,
          "write key");
    out.key_pem = bio_text(kb.get());
    return out;
}

void write_text_file(const std::string& path, const std::string& text) {
    // Written aside and renamed, as a certificate renewal tool would, so that the server never
    // reads half a file.
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) {
            throw std::runtime_error("cannot write " + tmp);
        }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw std::runtime_error("cannot rename " + tmp);
    }
}

https_reply https_request(const std::string& host, int port, const std::string& trusted_pem,
                          const std::string& method, const std::string& target,
                          const std::optional<std::string>& body, const std::string& token,
                          std::chrono::milliseconds timeout) {
    net::io_context ioc;
    auto ctx = client_context(trusted_pem);
    beast::ssl_stream<tcp::socket> stream(ioc, ctx);
    auto& sock = stream.next_layer();
    const tcp::endpoint ep(net::ip::make_address(host), static_cast<unsigned short>(port));
    auto ec = run_with_deadline(ioc, sock, timeout, [&](auto done) {
        sock.async_connect(ep, [done](beast::error_code e) { done(e); });
    });
    if (ec) {
        fail("connect", ec);
    }
    ec = run_with_deadline(ioc, sock, timeout, [&](auto done) {
        stream.async_handshake(ssl::stream_base::client, [done](beast::error_code e) { done(e); });
    });
    if (ec) {
        fail("tls handshake", ec);
    }
    https_reply out;
    out.peer = peer_of(stream.native_handle());

    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    if (!token.empty()) {
        req.set(http::field::authorization, "Bearer " + token);
    }
    if (body) {
        req.set(http::field::content_type, "application/json");
        req.body() = *body;
    }
    req.keep_alive(false);
    req.prepare_payload();
    ec = run_with_deadline(ioc, sock, timeout, [&](auto done) {
        http::async_write(stream, req, [done](beast::error_code e, std::size_t) { done(e); });
    });
    if (ec) {
        fail("write", ec);
    }
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    ec = run_with_deadline(ioc, sock, timeout, [&](auto done) {
        http::async_read(stream, buffer, res,
                         [done](beast::error_code e, std::size_t) { done(e); });
    });
    if (ec) {
        fail("read", ec);
    }
    out.status = static_cast<int>(res.result_int());
    for (const auto& f : res) {
        std::string name(f.name_string());
        for (auto& c : name) {
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    beast::error_code ignored;
    sock.close(ignored);
    return out;
}

struct wss_client::impl {
    net::io_context ioc;
    ssl::context ctx;
    websocket::stream<beast::ssl_stream<tcp::socket>> ws;
    std::deque<std::string> frames;
    bool closed = false;

    explicit impl(const std::string& trusted_pem)
        : ctx(client_context(trusted_pem)), ws(ioc, ctx) {}

    tcp::socket& socket() { return ws.next_layer().next_layer(); }
};

wss_client::wss_client(const std::string& host, int port, const std::string& token,
                       const std::string& trusted_pem)
    : impl_(std::make_unique<impl>(trusted_pem)) {
    auto& i = *impl_;
    const auto timeout = std::chrono::milliseconds(10000);
    const tcp::endpoint ep(net::ip::make_address(host), static_cast<unsigned short>(port));
    auto ec = run_with_deadline(i.ioc, i.socket(), timeout, [&](auto done) {
        i.socket().async_connect(ep, [done](beast::error_code e) { done(e); });
    });
    if (ec) {
        fail("connect", ec);
    }
    ec = run_with_deadline(i.ioc, i.socket(), timeout, [&](auto done) {
        i.ws.next_layer().async_handshake(ssl::stream_base::client,
                                          [done](beast::error_code e) { done(e); });
    });
    if (ec) {
        fail("tls handshake", ec);
    }
    peer_ = peer_of(i.ws.next_layer().native_handle());
    i.ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
        req.set(http::field::authorization, "Bearer " + token);
    }));
    websocket::response_type res;
    const std::string host_header = host + ":" + std::to_string(port);
    ec = run_with_deadline(i.ioc, i.socket(), timeout, [&](auto done) {
        i.ws.async_handshake(res, host_header, "/api/v1/ws",
                             [done](beast::error_code e) { done(e); });
    });
    if (ec) {
        throw std::runtime_error("websocket handshake refused with HTTP " +
                                 std::to_string(res.result_int()) + ": " + ec.message());
    }
    i.ws.read_message_max(64 << 20);
    auto hello = recv(timeout);
    if (!hello || (*hello)["type"] != "hello") {
        throw std::runtime_error("no hello frame after the handshake");
    }
    hello_ = *hello;
}

wss_client::~wss_client() {
    if (!impl_->closed) {
        (void)run_with_deadline(impl_->ioc, impl_->socket(), std::chrono::milliseconds(2000),
                                [&](auto done) {
                                    impl_->ws.async_close(websocket::close_code::normal,
                                                          [done](beast::error_code e) { done(e); });
                                });
    }
}

void wss_client::send(const nlohmann::json& frame) {
    auto& i = *impl_;
    const std::string text = frame.dump();
    i.ws.text(true);
    auto ec =
        run_with_deadline(i.ioc, i.socket(), std::chrono::milliseconds(10000), [&](auto done) {
            i.ws.async_write(net::buffer(text),
                             [done](beast::error_code e, std::size_t) { done(e); });
        });
    if (ec) {
        fail("write", ec);
    }
}

std::optional<nlohmann::json> wss_client::recv(std::chrono::milliseconds timeout) {
    auto& i = *impl_;
    if (!i.frames.empty()) {
        auto text = std::move(i.frames.front());
        i.frames.pop_front();
        return nlohmann::json::parse(text);
    }
    if (i.closed) {
        return std::nullopt;
    }
    beast::flat_buffer buffer;
    auto ec = run_with_deadline(i.ioc, i.socket(), timeout, [&](auto done) {
        i.ws.async_read(buffer, [done](beast::error_code e, std::size_t) { done(e); });
    });
    if (ec) {
        // A timeout closes the socket too: this client is done either way.
        i.closed = true;
        return std::nullopt;
    }
    return nlohmann::json::parse(beast::buffers_to_string(buffer.data()));
}

nlohmann::json wss_client::expect(const std::string& type, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            throw std::runtime_error("no " + type + " frame in time");
        }
        auto f = recv(left);
        if (!f) {
            throw std::runtime_error("no " + type + " frame (connection closed or timed out)");
        }
        if (f->value("type", "") == type) {
            return *f;
        }
    }
}

}  // namespace monochat::test
