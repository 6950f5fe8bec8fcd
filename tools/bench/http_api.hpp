#pragma once
// HTTP side of the generator: a keep-alive JSON client per coroutine, bounded parallel setup
// jobs, and the monochat calls the workloads need (shared/protocol.md, "HTTP API").

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::bench {

class io_pool;

struct http_reply {
    int status = 0;
    std::string body;
};

struct server_address {
    boost::asio::ip::tcp::endpoint endpoint;
    std::string host_header;  // "127.0.0.1:8080"
};

// One keep-alive connection, one request at a time. Reconnects when the server closed it;
// waits out 429 (Retry-After) and 503 (starting) up to a bound; throws std::runtime_error when
// the server cannot be reached or keeps refusing.
class http_session {
public:
    http_session(boost::asio::io_context& ioc, server_address server,
                 boost::asio::ip::address source);
    ~http_session();
    http_session(const http_session&) = delete;
    http_session& operator=(const http_session&) = delete;

    boost::asio::awaitable<http_reply> request(std::string_view method, std::string target,
                                               std::string body = {}, std::string token = {});

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Runs job(session, i) for every i in [0, n) with `concurrency` coroutines spread over the
// pool's threads, each with its own connection, and waits. Throws the first failure (the
// other jobs stop taking new items).
void parallel_http(
    io_pool& pool, const server_address& server,
    const std::vector<boost::asio::ip::address>& sources, std::size_t n, std::size_t concurrency,
    const std::function<boost::asio::awaitable<void>(http_session&, std::size_t)>& job);

struct account {
    std::string user_id;
    std::uint64_t uid = 0;
    std::string token;
};

// POST /auth/register (a 409 from a retried registration falls back to /auth/login).
boost::asio::awaitable<account> register_user(http_session& s, const std::string& username);
// POST /auth/guest.
boost::asio::awaitable<account> create_guest(http_session& s);
// a asks b, b accepts.
boost::asio::awaitable<void> befriend(http_session& s, const account& a, const account& b);
// POST /groups with the members (beside the owner); returns the group id.
boost::asio::awaitable<std::string> create_group(http_session& s, const account& owner,
                                                 const std::string& name,
                                                 const std::vector<std::string>& member_ids);
// POST /groups/{id}/members.
boost::asio::awaitable<void> add_members(http_session& s, const account& owner,
                                         const std::string& group_id,
                                         const std::vector<std::string>& member_ids);
// POST /conversations/{cid}/messages; returns the seq.
boost::asio::awaitable<std::uint64_t> post_text(http_session& s, const account& who,
                                                const std::string& conversation_id,
                                                const std::string& client_msg_id,
                                                const std::string& text);

// Throws std::runtime_error("METHOD target: status body") unless the status is `want`.
void expect_status(const http_reply& r, int want, std::string_view what);

// The password of every bench account.
inline constexpr std::string_view bench_password = "Bench-4pq7-Zr2m-91xk";

}  // namespace monochat::bench
