#pragma once
// Shared by the rest_*.cpp handlers. Private to gateway.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/gateway/rest_routes.hpp>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/wire.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::gateway {

inline constexpr std::string_view api_prefix = "/api/v1";

// The caller of the request's bearer token; unauthenticated otherwise.
[[nodiscard]] boost::asio::awaitable<result<logic::identity>> authenticate(
    logic::accounts& accounts, const http_request& req);

// A path parameter that must be a decimal id.
[[nodiscard]] result<std::uint64_t> path_id(const http_request& req, std::string_view name);

// The JSON texts of wire values, for json_util::object_writer::array.
template <class T>
[[nodiscard]] std::vector<std::string> json_items(const std::vector<T>& values) {
    std::vector<std::string> out;
    out.reserve(values.size());
    for (const auto& v : values) {
        out.push_back(logic::to_json(v));
    }
    return out;
}

// 200/201 with a JSON body.
[[nodiscard]] http_response json_reply(int status, std::string body);

void add_account_routes(router& routes, const rest_services& services);
void add_friend_routes(router& routes, const rest_services& services);
void add_group_routes(router& routes, const rest_services& services);
void add_conversation_routes(router& routes, const rest_services& services);

}  // namespace monochat::gateway
