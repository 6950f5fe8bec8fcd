#include "support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace monochat::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

nlohmann::json http_reply::json() const { return nlohmann::json::parse(body); }

std::string http_reply::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string{} : it->second;
}

struct http_client::impl {
    std::string host;
    int port;
    net::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    void connect(std::chrono::milliseconds timeout) {
        stream.emplace(ioc);
        buffer.clear();
        stream->expires_after(timeout);
        stream->connect(tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    }
};

http_client::http_client(std::string host, int port) : impl_(std::make_unique<impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
}

http_client::~http_client() = default;

http_reply http_client::request(const std::string& method, const std::string& target,
                                const std::optional<std::string>& body, const std::string& token,
                                const std::vector<std::pair<std::string, std::string>>& headers) {
    for (int attempt = 0;; ++attempt) {
        try {
            if (!impl_->stream) {
                impl_->connect(timeout);
            }
            http::request<http::string_body> req{http::string_to_verb(method), target, 11};
            req.set(http::field::host, impl_->host);
            if (req.method() == http::verb::unknown) {
                req.method_string(method);
            }
            if (!token.empty()) {
                req.set(http::field::authorization, "Bearer " + token);
            }
            for (const auto& [k, v] : headers) {
                req.set(k, v);
            }
            if (body && req[http::field::content_type].empty()) {
                req.set(http::field::content_type, "application/json");
            }
            if (body) {
                req.body() = *body;
            }
            req.keep_alive(true);
            req.prepare_payload();
            impl_->stream->expires_after(timeout);
            http::write(*impl_->stream, req);
            http::response_parser<http::string_body> parser;
            parser.body_limit(64 << 20);
            parser.skip(method == "HEAD");
            http::read(*impl_->stream, impl_->buffer, parser);
            auto res = parser.release();
            http_reply out;
            out.status = static_cast<int>(res.result_int());
            for (const auto& f : res) {
                std::string name(f.name_string());
                for (auto& c : name) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                out.headers[name] = std::string(f.value());
            }
            out.body = std::move(res.body());
            if (!res.keep_alive()) {
                impl_->stream.reset();
            }
            return out;
        } catch (const boost::system::system_error& e) {
            impl_->stream.reset();
            // A keep-alive connection the server closed meanwhile: one fresh try.
            if (attempt > 0) {
                throw std::runtime_error(method + " " + target + ": " + e.what());
            }
        }
    }
}

std::string raw_exchange(const std::string& host, int port, const std::string& bytes,
                         std::chrono::milliseconds timeout) {
    net::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    net::write(stream, net::buffer(bytes));
    std::string out;
    char buf[4096];
    for (;;) {
        boost::system::error_code ec;
        const auto n = stream.read_some(net::buffer(buf), ec);
        out.append(buf, n);
        if (ec) {
            break;
        }
    }
    return out;
}

}  // namespace monochat::test
