#include <monochat/gateway/rest_routes.hpp>

#include <monochat/logic/accounts.hpp>

#include "gateway/rest_common.hpp"

namespace monochat::gateway {

boost::asio::awaitable<result<logic::identity>> authenticate(logic::accounts& accounts,
                                                             const http_request& req) {
    co_return co_await accounts.authenticate(std::string(req.bearer_token()));
}

result<std::uint64_t> path_id(const http_request& req, std::string_view name) {
    return logic::parse_id(req.param(name), name);
}

http_response json_reply(int status, std::string body) {
    return http_response::json(status, std::move(body));
}

void add_rest_routes(router& routes, const rest_services& services) {
    add_account_routes(routes, services);
    add_friend_routes(routes, services);
    add_group_routes(routes, services);
    add_conversation_routes(routes, services);
}

}  // namespace monochat::gateway
