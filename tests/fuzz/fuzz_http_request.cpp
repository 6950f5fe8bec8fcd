// libFuzzer target: an HTTP request through the router and the REST handlers, with the real
// logic services over in-memory and temporary stores (fuzz_world.hpp).
//
// The input is
//   METHOD TARGET            the request line: "POST /api/v1/groups?x=1"
//   AUTHORIZATION            the Authorization header's value (may be empty)
//   BODY...                  everything after the second newline
// with the placeholders of fuzz_world.hpp ($TOKEN, $DM, ...) replaced. The target is decoded
// and dispatched as gateway/http_server.cpp does (percent_decode, parse_query, router::find).
//
// A WebSocket upgrade's headers instead, when the first line is "UPGRADE HOST":
//   UPGRADE HOST             the Host header
//   SUBPROTOCOLS             the Sec-WebSocket-Protocol value
//   ORIGIN...                the Origin header's value (empty: no Origin header)
// read as gateway/websocket_gateway.cpp does (parse_ws_subprotocols, ws_origin_allowed).
//
// Beyond "no crash": no handler may throw (the listener would answer 500), no request may be
// answered 500, every error body is {"error": {"code", "message"}}, and every other body with
// content is JSON.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz/fuzz_world.hpp"
#include "gateway/ws_handshake.hpp"

namespace {

using namespace monochat;
using gateway::http_method;

http_method method_of(std::string_view m) {
    if (m == "GET") return http_method::get;
    if (m == "HEAD") return http_method::head;
    if (m == "POST") return http_method::post;
    if (m == "PUT") return http_method::put;
    if (m == "PATCH") return http_method::patch;
    if (m == "DELETE") return http_method::del;
    if (m == "OPTIONS") return http_method::options;
    return http_method::other;
}

std::string_view next_line(std::string_view& in) {
    const auto nl = in.find('\n');
    const auto line = in.substr(0, nl);
    in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
    return line;
}

// gateway/http_server.cpp's dispatch, without its catch: a throwing handler is a finding.
boost::asio::awaitable<gateway::http_response> dispatch(const gateway::router& routes,
                                                        gateway::http_request& req) {
    auto m = routes.find(req.method, req.path);
    if (m.handler != nullptr) {
        req.route = *m.pattern;
        req.path_params = std::move(m.params);
        co_return co_await (*m.handler)(req);
    }
    if (!m.allowed.empty()) {
        co_return gateway::error_response(make_error(errc::method_not_allowed, "not allowed"));
    }
    co_return gateway::error_response(make_error(errc::not_found, "no such route"));
}

// The upgrade's checks: a token is what followed `monochat.token.` in the offer, whole (no
// list separator or padding in it); the server's own origin is always allowed, a foreign one
// only when listed.
void fuzz_upgrade(std::string_view host, std::string_view protocols, std::string_view origin) {
    const auto p = gateway::parse_ws_subprotocols(protocols);
    if (p.token) {
        const auto& t = *p.token;
        if (t.empty() || t.find(',') != std::string::npos || t.front() == ' ' || t.back() == ' ' ||
            t.front() == '\t' || t.back() == '\t' ||
            protocols.find(std::string(gateway::ws_token_subprotocol_prefix) + t) == std::string_view::npos) {
            fuzz::die("subprotocol token \"" + t + "\" from \"" + std::string(protocols) + "\"");
        }
    }
    if (p.v1 && protocols.find(gateway::ws_subprotocol) == std::string_view::npos) {
        fuzz::die("monochat.v1 seen in \"" + std::string(protocols) + "\"");
    }
    const std::optional<std::string_view> o =
        origin.empty() ? std::nullopt : std::optional<std::string_view>(origin);
    const bool own = gateway::ws_origin_allowed(o, host, false, {});
    const bool listed = gateway::ws_origin_allowed(o, "", true, {std::string(origin)});
    if (!o && !(own && listed)) {
        fuzz::die("an upgrade without Origin was refused");
    }
    const auto n = gateway::normalize_origin(origin);
    if (o && n != "null" && !n.empty() && !listed) {
        fuzz::die("a listed origin was refused: \"" + std::string(origin) + "\"");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& w = fuzz::world::instance();
    const std::string input = w.expand(std::string_view(reinterpret_cast<const char*>(data), size));
    std::string_view rest = input;
    std::string_view line = next_line(rest);
    const std::string_view auth = next_line(rest);
    if (line.rfind("UPGRADE ", 0) == 0) {
        fuzz_upgrade(line.substr(8), auth, rest);
        return 0;
    }

    gateway::http_request req;
    const auto sp = line.find(' ');
    req.method = method_of(line.substr(0, sp));
    const std::string_view target = sp == std::string_view::npos ? "/" : line.substr(sp + 1);
    req.target = std::string(target);
    req.authorization = std::string(auth);
    req.body = std::string(rest);
    req.client_address = "10.0.0.2";
    req.trace_id = "fuzz";
    const auto qpos = target.find('?');
    if (!gateway::percent_decode(target.substr(0, qpos), req.path, false) ||
        (qpos != std::string_view::npos && !gateway::parse_query(target.substr(qpos + 1), req.query))) {
        return 0;  // the listener answers 400 "malformed request target" itself
    }

    const auto res = w.io.run(dispatch(w.routes, req));
    if (req.route == "/api/v1/auth/logout" && res.status < 300) {
        w.relogin();
    }
    if (res.status == 500 || res.status < 200 || res.status > 599) {
        fuzz::die("status " + std::to_string(res.status) + " for " + req.target + ": " + res.body);
    }
    if (res.status == 204 || res.body.empty()) {
        return 0;
    }
    const auto j = nlohmann::json::parse(res.body, nullptr, false);
    if (j.is_discarded()) {
        fuzz::die("response body is not JSON: " + res.body);
    }
    if (res.status >= 400 && !(j.contains("error") && j["error"].is_object() &&
                               j["error"].contains("code") && j["error"].contains("message"))) {
        fuzz::die("error body without error.code/message: " + res.body);
    }
    return 0;
}
