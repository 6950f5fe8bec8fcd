#include "bench/http_api.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <future>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "bench/io_pool.hpp"

namespace monochat::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;

namespace {

constexpr auto token = net::as_tuple(net::use_awaitable);
constexpr auto request_timeout = std::chrono::seconds(60);
constexpr int max_transport_retries = 5;
constexpr int max_busy_retries = 120;

#ifndef IP_BIND_ADDRESS_NO_PORT
constexpr int IP_BIND_ADDRESS_NO_PORT = 24;
#endif

net::awaitable<void> sleep_for(std::chrono::milliseconds d) {
    net::steady_timer t(co_await net::this_coro::executor);
    t.expires_after(d);
    co_await t.async_wait(token);
}

}  // namespace

struct http_session::impl {
    impl(net::io_context& ioc, server_address s, net::ip::address src)
        : ioc(ioc), server(std::move(s)), source(src) {}

    net::io_context& ioc;
    server_address server;
    net::ip::address source;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    net::awaitable<boost::system::error_code> connect() {
        stream.emplace(ioc);
        buffer.clear();
        auto& sock = stream->socket();
        boost::system::error_code ec;
        sock.open(server.endpoint.protocol(), ec);
        if (ec) {
            co_return ec;
        }
        const int one = 1;
        ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sock.bind(tcp::endpoint(source, 0), ec);
        if (ec) {
            co_return ec;
        }
        stream->expires_after(request_timeout);
        auto [cec] = co_await stream->async_connect(server.endpoint, token);
        co_return cec;
    }
};

http_session::http_session(net::io_context& ioc, server_address server, net::ip::address source)
    : impl_(std::make_unique<impl>(ioc, std::move(server), source)) {}

http_session::~http_session() = default;

net::awaitable<http_reply> http_session::request(std::string_view method, std::string target,
                                                 std::string body, std::string bearer) {
    int transport_failures = 0;
    int busy = 0;
    std::string last_error;
    for (;;) {
        if (transport_failures > max_transport_retries) {
            throw std::runtime_error(fmt::format("{} {}: {}", method, target, last_error));
        }
        if (!impl_->stream) {
            if (auto ec = co_await impl_->connect()) {
                impl_->stream.reset();
                last_error = "connect: " + ec.message();
                ++transport_failures;
                co_await sleep_for(std::chrono::milliseconds(200));
                continue;
            }
        }
        http::request<http::string_body> req{http::string_to_verb(method), target, 11};
        req.set(http::field::host, impl_->server.host_header);
        if (!bearer.empty()) {
            req.set(http::field::authorization, "Bearer " + bearer);
        }
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.keep_alive(true);
        req.prepare_payload();
        impl_->stream->expires_after(request_timeout);
        auto [wec, wn] = co_await http::async_write(*impl_->stream, req, token);
        http::response_parser<http::string_body> parser;
        parser.body_limit(64 << 20);
        boost::system::error_code rec = wec;
        if (!wec) {
            auto [e, n] = co_await http::async_read(*impl_->stream, impl_->buffer, parser, token);
            rec = e;
        }
        if (rec) {
            // A keep-alive connection the server closed meanwhile, or a reset: reconnect.
            impl_->stream.reset();
            last_error = rec.message();
            ++transport_failures;
            if (transport_failures > 1) {
                co_await sleep_for(std::chrono::milliseconds(200));
            }
            continue;
        }
        auto res = parser.release();
        if (!res.keep_alive()) {
            impl_->stream.reset();
        }
        const int status = static_cast<int>(res.result_int());
        if ((status == 429 || status == 503) && busy++ < max_busy_retries) {
            int wait_ms = 200;
            const auto ra = res[http::field::retry_after];
            if (!ra.empty()) {
                wait_ms = std::clamp(std::atoi(std::string(ra).c_str()) * 1000, 100, 5000);
            }
            co_await sleep_for(std::chrono::milliseconds(wait_ms));
            continue;
        }
        co_return http_reply{status, std::move(res.body())};
    }
}

void parallel_http(io_pool& pool, const server_address& server,
                   const std::vector<net::ip::address>& sources, std::size_t n,
                   std::size_t concurrency,
                   const std::function<net::awaitable<void>(http_session&, std::size_t)>& job) {
    if (n == 0) {
        return;
    }
    struct shared_state {
        std::atomic<std::size_t> next{0};
        std::atomic<bool> failed{false};
        std::atomic<std::size_t> running{0};
        std::mutex mutex;
        std::string error;
        std::promise<void> done;
    };
    auto st = std::make_shared<shared_state>();
    const std::size_t workers = std::max<std::size_t>(1, std::min(concurrency, n));
    st->running = workers;
    for (std::size_t w = 0; w < workers; ++w) {
        auto& ioc = pool.at(w);
        net::co_spawn(
            ioc,
            [st, &ioc, &server, &job, n,
             src = sources[w % sources.size()]]() -> net::awaitable<void> {
                http_session session(ioc, server, src);
                try {
                    for (;;) {
                        const std::size_t i = st->next.fetch_add(1);
                        if (i >= n || st->failed) {
                            break;
                        }
                        co_await job(session, i);
                    }
                } catch (const std::exception& e) {
                    std::lock_guard lock(st->mutex);
                    if (!st->failed.exchange(true)) {
                        st->error = e.what();
                    }
                }
                if (st->running.fetch_sub(1) == 1) {
                    st->done.set_value();
                }
            },
            net::detached);
    }
    st->done.get_future().get();
    if (st->failed) {
        throw std::runtime_error(st->error);
    }
}

void expect_status(const http_reply& r, int want, std::string_view what) {
    if (r.status != want) {
        throw std::runtime_error(
            fmt::format("{}: HTTP {} {}", what, r.status, r.body.substr(0, 300)));
    }
}

namespace {

account account_from(const http_reply& r) {
    const auto j = json::parse(r.body);
    account a;
    a.user_id = j.at("user").at("user_id").get<std::string>();
    a.uid = std::stoull(a.user_id);
    a.token = j.at("token").get<std::string>();
    return a;
}

}  // namespace

net::awaitable<account> register_user(http_session& s, const std::string& username) {
    const std::string body = json{{"username", username}, {"password", bench_password}}.dump();
    auto r = co_await s.request("POST", "/api/v1/auth/register", body);
    if (r.status == 409) {  // a retried registration that had gone through
        r = co_await s.request("POST", "/api/v1/auth/login", body);
        expect_status(r, 200, "POST /auth/login " + username);
    } else {
        expect_status(r, 201, "POST /auth/register " + username);
    }
    co_return account_from(r);
}

net::awaitable<account> create_guest(http_session& s) {
    auto r = co_await s.request("POST", "/api/v1/auth/guest", "{}");
    expect_status(r, 201, "POST /auth/guest");
    co_return account_from(r);
}

net::awaitable<void> befriend(http_session& s, const account& a, const account& b) {
    // (GCC 12 miscompiles initializer lists inside a co_await expression: build bodies first.)
    const std::string body = json{{"user_id", b.user_id}}.dump();
    auto r = co_await s.request("POST", "/api/v1/friends/requests", body, a.token);
    expect_status(r, 201, "POST /friends/requests");
    const auto req = json::parse(r.body).at("request");
    if (req.value("status", "") != "accepted") {
        const auto id = req.at("request_id").get<std::string>();
        auto acc = co_await s.request("POST", "/api/v1/friends/requests/" + id + "/accept",
                                      std::string(), b.token);
        expect_status(acc, 200, "POST /friends/requests/{id}/accept");
    }
}

net::awaitable<std::string> create_group(http_session& s, const account& owner,
                                         const std::string& name,
                                         const std::vector<std::string>& member_ids) {
    const std::string body =
        json{{"name", name}, {"member_ids", member_ids}, {"public", false}}.dump();
    auto r = co_await s.request("POST", "/api/v1/groups", body, owner.token);
    expect_status(r, 201, "POST /groups");
    co_return json::parse(r.body).at("group").at("group_id").get<std::string>();
}

net::awaitable<void> add_members(http_session& s, const account& owner, const std::string& group_id,
                                 const std::vector<std::string>& member_ids) {
    const std::string body = json{{"user_ids", member_ids}}.dump();
    auto r =
        co_await s.request("POST", "/api/v1/groups/" + group_id + "/members", body, owner.token);
    expect_status(r, 200, "POST /groups/{id}/members");
}

net::awaitable<std::uint64_t> post_text(http_session& s, const account& who,
                                        const std::string& conversation_id,
                                        const std::string& client_msg_id, const std::string& text) {
    const std::string body =
        json{{"client_msg_id", client_msg_id}, {"body", {{"type", "text"}, {"text", text}}}}.dump();
    auto r = co_await s.request("POST", "/api/v1/conversations/" + conversation_id + "/messages",
                                body, who.token);
    if (r.status != 200) {
        expect_status(r, 201, "POST /conversations/{cid}/messages");
    }
    co_return json::parse(r.body).at("message").at("seq").get<std::uint64_t>();
}

}  // namespace monochat::bench
