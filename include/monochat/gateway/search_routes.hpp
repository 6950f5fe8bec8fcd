#pragma once
// HTTP route of message search (shared/protocol.md, "Search"; syntax in docs/protocol.md):
//   GET /api/v1/search/messages?q=&conversation_id=&limit=   -> 200 {"messages": [...]}

#include <monochat/gateway/http.hpp>
#include <monochat/gateway/message_routes.hpp>

namespace monochat::logic {
class search_service;
}

namespace monochat::gateway {

void add_search_routes(router& routes, authenticator authenticate, logic::search_service& search);

}  // namespace monochat::gateway
