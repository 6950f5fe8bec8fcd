#include "support/http_receiver.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <stdexcept>
#include <thread>

namespace monochat::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

struct http_receiver::impl {
    net::io_context io;
    tcp::acceptor acceptor{io};
    std::atomic<int> status{200};
    mutable std::mutex mutex;
    std::vector<request> seen;
    std::thread thread;

    void accept() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
            if (ec) {
                return;  // closed
            }
            serve(std::move(socket));
            accept();
        });
    }

    // Synchronous on the receiver's thread: one short request at a time is all a webhook test
    // sends (one delivery in flight per webhook).
    void serve(tcp::socket socket) {
        boost::system::error_code ec;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(socket, buffer, req, ec);
        if (ec) {
            return;
        }
        request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& f : req) {
            std::string name(f.name_string());
            for (auto& c : name) {
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            }
            r.headers[name] = std::string(f.value());
        }
        r.body = req.body();
        r.answered = status.load();
        http::response<http::string_body> res{static_cast<http::status>(r.answered), 11};
        res.set(http::field::content_type, "text/plain");
        res.set(http::field::connection, "close");
        res.body() = r.answered / 100 == 2 ? "ok" : "not now";
        res.prepare_payload();
        {
            std::lock_guard lock(mutex);
            seen.push_back(std::move(r));
        }
        http::write(socket, res, ec);
        socket.shutdown(tcp::socket::shutdown_both, ec);
    }
};

http_receiver::http_receiver(int port) : impl_(std::make_unique<impl>()) {
    const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port));
    boost::system::error_code ec;
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) {
        impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
        impl_->acceptor.bind(ep, ec);
    }
    if (!ec) {
        impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
        throw std::runtime_error("http_receiver: cannot listen on port " + std::to_string(port) +
                                 ": " + ec.message());
    }
    port_ = impl_->acceptor.local_endpoint().port();
    impl_->accept();
    impl_->thread = std::thread([this] { impl_->io.run(); });
}

http_receiver::~http_receiver() {
    net::post(impl_->io, [this] {
        boost::system::error_code ec;
        impl_->acceptor.close(ec);
    });
    impl_->thread.join();
}

std::string http_receiver::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void http_receiver::set_status(int status) { impl_->status = status; }

std::vector<http_receiver::request> http_receiver::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->seen;
}

bool http_receiver::wait_for(const std::function<bool(const std::vector<request>&)>& done,
                             std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done(requests())) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out += digits[mac[i] >> 4];
        out += digits[mac[i] & 0xf];
    }
    return out;
}

}  // namespace monochat::test
