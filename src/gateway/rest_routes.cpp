#include <monochat/gateway/rest_routes.hpp>

#include <monochat/logic/accounts.hpp>

#include "gateway/rest_common.hpp"

namespace monochat::gateway {

void add_rest_routes(router& routes, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;
    rest::endpoints<logic::identity> api(
        routes, std::string(api_prefix), rest::bearer([accounts](std::string token) {
            return accounts->authenticate(std::move(token));
        }));
    add_account_routes(api, services);
    add_friend_routes(api, services);
    add_group_routes(api, services);
    add_conversation_routes(api, services);
}

}  // namespace monochat::gateway
