#include <monochat/gateway/webhook_client.hpp>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <set>

namespace monochat::gateway {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using token = net::as_tuple_t<net::use_awaitable_t<>>;
constexpr token tok{};

error failure(std::string_view what, const boost::system::error_code& ec) {
    return make_error(errc::unavailable, std::string(what) + ": " + ec.message());
}

class webhook_client final : public logic::webhook_transport {
public:
    webhook_client() : tls_(ssl::context::tls_client) {
        tls_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
        boost::system::error_code ec;
        tls_.set_default_verify_paths(ec);  // without them every https delivery fails: logged there
        tls_.set_verify_mode(ssl::verify_peer);
    }

    net::awaitable<result<std::vector<std::string>>> resolve(std::string host,
                                                             std::string port) override {
        tcp::resolver resolver(co_await net::this_coro::executor);
        auto [ec, found] = co_await resolver.async_resolve(host, port, tok);
        if (ec) {
            co_return failure("resolve", ec);
        }
        std::vector<std::string> out;
        std::set<std::string> seen;
        for (const auto& e : found) {
            auto a = e.endpoint().address().to_string();
            if (seen.insert(a).second) {
                out.push_back(std::move(a));
            }
        }
        co_return out;
    }

    net::awaitable<result<int>> post(request r) override {
        std::vector<tcp::endpoint> endpoints;
        const auto port = static_cast<unsigned short>(std::stoi(r.url.port));
        for (const auto& a : r.addresses) {
            boost::system::error_code ec;
            auto addr = net::ip::make_address(a, ec);
            if (!ec) {
                endpoints.emplace_back(addr, port);
            }
        }
        if (endpoints.empty()) {
            co_return make_error(errc::unavailable, "no address to connect to");
        }
        beast::tcp_stream stream(co_await net::this_coro::executor);
        stream.expires_after(r.timeout);
        auto [cec, connected] = co_await stream.async_connect(endpoints, tok);
        (void)connected;
        if (cec) {
            co_return failure("connect", cec);
        }
        http::request<http::string_body> req{http::verb::post, r.url.target, 11};
        const bool default_port = (r.url.scheme == "https" && r.url.port == "443") ||
                                  (r.url.scheme == "http" && r.url.port == "80");
        const bool v6 = r.url.host.find(':') != std::string::npos;
        std::string host_header = v6 ? "[" + r.url.host + "]" : r.url.host;
        if (!default_port) {
            host_header += ":" + r.url.port;
        }
        req.set(http::field::host, host_header);
        for (const auto& [name, value] : r.headers) {
            req.set(name, value);
        }
        req.set(http::field::connection, "close");
        req.body() = std::move(r.body);
        req.prepare_payload();

        if (r.url.scheme == "https") {
            beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), tls_);
            if (!SSL_set_tlsext_host_name(tls.native_handle(), r.url.host.c_str())) {
                co_return make_error(errc::unavailable, "TLS: cannot set the server name");
            }
            tls.set_verify_callback(ssl::host_name_verification(r.url.host));
            auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, tok);
            if (hec) {
                co_return failure("TLS handshake", hec);
            }
            co_return co_await exchange(tls, req, r.max_response_bytes);
        }
        co_return co_await exchange(stream, req, r.max_response_bytes);
    }

private:
    template <class Stream>
    static net::awaitable<result<int>> exchange(Stream& s, http::request<http::string_body>& req,
                                                std::size_t max_response_bytes) {
        auto [wec, written] = co_await http::async_write(s, req, tok);
        (void)written;
        if (wec) {
            co_return failure("write", wec);
        }
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(max_response_bytes);
        auto [rec, read] = co_await http::async_read(s, buffer, parser, tok);
        (void)read;
        if (rec) {
            co_return failure("read", rec);
        }
        co_return static_cast<int>(parser.get().result_int());
    }

    ssl::context tls_;
};

}  // namespace

std::unique_ptr<logic::webhook_transport> make_webhook_client(net::io_context& /*io*/) {
    // Calls run on their callers' executors (the webhook workers' strands on `io`).
    return std::make_unique<webhook_client>();
}

}  // namespace monochat::gateway
