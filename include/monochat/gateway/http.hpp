#pragma once
// HTTP vocabulary shared by the listener and every REST handler, free of Beast so that handler
// files compile fast: a parsed request, a response, and a router with path parameters.
//
// Errors: handlers return `error_response(e)`, which maps the protocol's codes to statuses and
// writes `{"error": {"code", "message"}}` (plus Retry-After for rate_limited).

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace monochat::gateway {

enum class http_method { get, head, post, put, patch, del, options, other };

std::string_view to_string(http_method m) noexcept;

using string_pairs = std::vector<std::pair<std::string, std::string>>;

// The body of a request to a streaming route (router::add_streaming), read by its handler as it
// arrives instead of being buffered whole under `server.max_body_bytes` (uploads). Each read
// waits at most `server.request_timeout_ms` for bytes. Valid during the handler only; runs on
// the connection's strand.
class body_stream {
public:
    virtual ~body_stream() = default;
    // `buf.size()` bytes of the body, fewer only at its end (0 once it is over). Errors: unavailable (the client went
    // away or stalled; nothing more can be read), invalid_argument (malformed chunked coding).
    virtual boost::asio::awaitable<result<std::size_t>> read_some(std::span<char> buf) = 0;
    // The declared Content-Length; none for a chunked body.
    virtual std::optional<std::uint64_t> content_length() const = 0;
    // True once the whole body was read.
    virtual bool done() const = 0;
};

// A response body written as it is read from its source (downloads): the listener writes the
// header with `Content-Length: length`, then asks the source for chunks until `length` bytes
// are out. A source that fails or ends early cuts the connection (the client sees a short
// body, never a wrong one). The source lives until the response is written.
class body_source {
public:
    virtual ~body_source() = default;
    // Up to `buf.size()` bytes, the next ones; 0 or an error ends the response early.
    virtual boost::asio::awaitable<result<std::size_t>> read(std::span<char> buf) = 0;
};

struct http_request {
    http_method method = http_method::get;
    std::string target;  // as received: path and query
    std::string path;    // percent-decoded path without the query
    string_pairs query;  // percent-decoded query parameters, in order
    string_pairs path_params;
    std::string body;
    std::string authorization;  // the Authorization header, empty when absent
    std::string user_agent;
    std::string if_none_match;  // the If-None-Match header (static assets answer 304)
    std::string client_address;  // peer IP address
    std::string trace_id;        // X-Request-Id when sane, else a fresh id
    std::string route;           // the matched route template, for metrics and logs
    // Streaming routes only (router::add_streaming): the body, not yet read; `body` stays
    // empty. A body left unread when the handler returns ends the connection after the answer.
    body_stream* stream = nullptr;
    std::string range;           // the Range header
    std::string if_range;        // the If-Range header

    // First query parameter with this name.
    std::optional<std::string_view> query_param(std::string_view name) const;
    // Path parameter (always present for a matched route).
    std::string_view param(std::string_view name) const;
    // The token of an `Authorization: Bearer <token>` header, empty otherwise.
    std::string_view bearer_token() const;
};

struct http_response {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    string_pairs headers;
    // Set: the body comes from this source (`source_length` bytes) instead of `body`.
    std::shared_ptr<body_source> source;
    std::uint64_t source_length = 0;

    static http_response json(int status, std::string body);
    static http_response no_content();
};

// The HTTP status of a protocol error code.
int http_status(errc code) noexcept;
http_response error_response(const error& e);

using route_handler = std::function<boost::asio::awaitable<http_response>(http_request&)>;

// Routes are templates with `{name}` segments: `/api/v1/groups/{group_id}/members/{user_id}`.
// A path matches a template when every literal segment is equal and the segment counts agree.
// Literal segments win over parameters when two templates match (`/friends/requests` before
// `/friends/{user_id}`).
class router {
public:
    void add(http_method method, std::string pattern, route_handler handler);
    // A route whose handler reads the request body itself through `http_request::stream`, as
    // it arrives, with no body size limit of the listener's (the handler enforces its own).
    void add_streaming(http_method method, std::string pattern, route_handler handler);
    // Serves every path no route template matches (the web client).
    void set_fallback(route_handler handler);

    struct match {
        const route_handler* handler = nullptr;  // null: nothing matched (or method mismatch)
        const std::string* pattern = nullptr;
        string_pairs params;
        std::vector<http_method> allowed;  // non-empty: the path matched under other methods
        bool streaming = false;            // added with add_streaming
    };
    match find(http_method method, std::string_view path) const;
    const route_handler* fallback() const { return fallback_ ? &*fallback_ : nullptr; }

private:
    struct route {
        http_method method;
        std::string pattern;
        std::vector<std::string> segments;
        int literal_count;
        route_handler handler;
        bool streaming = false;
    };
    std::vector<route> routes_;
    std::optional<route_handler> fallback_;
};

// Percent-decoding for paths and queries ("+" is a space only in queries). False on a
// malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs; false on a malformed escape.
bool parse_query(std::string_view query, string_pairs& out);

}  // namespace monochat::gateway
