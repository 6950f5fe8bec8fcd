#pragma once
// The one pipeline every REST route runs through. Private to gateway.
//
// A route is its path, its body type and one call into logic:
//
//     api.add<create_group>(http_method::post, "/groups",
//         [social](logic::identity who, const rest::request& r, create_group b) -> rest::reply {
//             co_return rest::answer(co_await social->create_group(who, ...), 201, group_body);
//         });
//
// In order, and nowhere else: the gate names the caller (401 without a valid bearer token, 403
// for an admin route and a caller without the role), every numeric path parameter is parsed
// (`{seq}` and `{..._id}`; 400), the body is parsed into its type (400), the call runs, and an
// error it returns becomes the protocol's error response (error_response).
//
// A body type is `no_body` (the call takes no body argument), `json_util::json` (any JSON
// object), or a struct with `static result<T> from_json(const json_util::json&)`; a struct with
// `static constexpr bool may_be_empty = true` also accepts an empty request body as `{}`.
//
// Thread-safety: handlers run on connection strands; the captured services must accept
// concurrent calls and outlive the router.

#include <boost/asio/awaitable.hpp>
#include <concepts>
#include <cstdint>
#include <functional>
#include <monochat/gateway/http.hpp>
#include <monochat/gateway/message_routes.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/json_util.hpp"

namespace monochat::gateway::rest {

namespace net = boost::asio;

// What a call answers: the response, or an error the pipeline maps.
using reply = net::awaitable<result<http_response>>;

// Names the caller of a request, or refuses it.
template <class Caller>
using gate = std::function<net::awaitable<result<Caller>>(const http_request&)>;

// The caller of an open route (registration, login): only where the request came from.
struct anyone {
    std::string client_address;
    std::string user_agent;
};

// The user of the request's bearer token (the only bearer authenticator of the REST routes).
[[nodiscard]] gate<logic::identity> bearer(authenticator authenticate);
// Everybody: open routes.
[[nodiscard]] gate<anyone> open();

// Marks a route that reads no body (whatever the request carries is ignored).
struct no_body {};

template <class T>
concept body_struct = requires(const json_util::json& j) {
    { T::from_json(j) } -> std::same_as<result<T>>;
};

// A request after the pipeline read it: the numeric path parameters are parsed already.
class request {
public:
    request(const http_request& http, std::vector<std::pair<std::string, std::uint64_t>> numbers)
        : http_(http), numbers_(std::move(numbers)) {}

    const http_request& http() const { return http_; }
    // A `{seq}` or `{..._id}` path parameter of the route (an invariant: the pipeline parsed
    // every one; asking for another name is a programming error).
    std::uint64_t number(std::string_view name) const;
    // Any other path parameter, as received (percent-decoded).
    std::string_view text(std::string_view name) const { return http_.param(name); }
    std::optional<std::string_view> query(std::string_view name) const {
        return http_.query_param(name);
    }

private:
    const http_request& http_;
    std::vector<std::pair<std::string, std::uint64_t>> numbers_;
};

// Parses the numeric path parameters of a matched request: `{seq}` is a non-negative decimal
// number, `{..._id}` a decimal id (logic::parse_id).
[[nodiscard]] result<std::vector<std::pair<std::string, std::uint64_t>>> path_numbers(
    const http_request& req);

template <class Body>
[[nodiscard]] result<Body> read_body(const http_request& req) {
    if constexpr (std::same_as<Body, no_body>) {
        return Body{};
    } else if constexpr (std::same_as<Body, json_util::json>) {
        auto j = json_util::parse_object(req.body);
        if (!j) {
            return j.error();
        }
        return result<Body>(boost::system::in_place_value, std::move(*j));
    } else {
        static_assert(body_struct<Body>, "a body type needs static result<T> from_json(json)");
        constexpr bool may_be_empty = requires { Body::may_be_empty; };
        auto j = json_util::parse_object(req.body, may_be_empty);
        if (!j) {
            return j.error();
        }
        return Body::from_json(*j);
    }
}

// The route handler of one call behind one gate.
template <class Body, class Caller, class Call>
[[nodiscard]] route_handler handler(gate<Caller> who_of, Call call) {
    return [who_of = std::move(who_of),
            call = std::move(call)](http_request& req) -> net::awaitable<http_response> {
        auto who = co_await who_of(req);
        if (!who) {
            co_return error_response(who.error());
        }
        auto numbers = path_numbers(req);
        if (!numbers) {
            co_return error_response(numbers.error());
        }
        auto body = read_body<Body>(req);
        if (!body) {
            co_return error_response(body.error());
        }
        const request r(req, std::move(*numbers));
        auto out = co_await [&]() -> reply {
            if constexpr (std::same_as<Body, no_body>) {
                return call(std::move(*who), r);
            } else {
                return call(std::move(*who), r, std::move(*body));
            }
        }();
        if (!out) {
            co_return error_response(out.error());
        }
        co_return std::move(*out);
    };
}

// Routes under one prefix behind one gate.
template <class Caller>
class endpoints {
public:
    endpoints(router& routes, std::string prefix, gate<Caller> who_of)
        : routes_(routes), prefix_(std::move(prefix)), who_of_(std::move(who_of)) {}

    template <class Body = no_body, class Call>
    void add(http_method method, std::string_view path, Call call) {
        // Appended, not `prefix_ + std::string(path)`: GCC 12 warns a false -Wrestrict on that.
        std::string pattern;
        pattern.reserve(prefix_.size() + path.size());
        pattern.append(prefix_).append(path);
        routes_.add(method, std::move(pattern), handler<Body>(who_of_, std::move(call)));
    }

    router& routes() { return routes_; }

private:
    router& routes_;
    std::string prefix_;
    gate<Caller> who_of_;
};

// A JSON answer made from a logic result: its error, or `status` with `body_of(value)`.
template <class T, class F>
[[nodiscard]] result<http_response> answer(result<T>&& r, int status, F&& body_of) {
    if (!r) {
        return r.error();
    }
    return http_response::json(status, std::forward<F>(body_of)(*r));
}

// 204 from a logic status, or its error.
[[nodiscard]] result<http_response> no_content(const status& s);

// `{"<key>": <json text of the value>}` (logic::to_json).
[[nodiscard]] std::string wrapped(std::string_view key, const std::string& json_text);

}  // namespace monochat::gateway::rest
