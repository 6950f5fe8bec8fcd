#pragma once
// The REST half of the protocol that the accounts, social and conversations services answer
// (shared/protocol.md, "Accounts", "Friends", "Groups", and from "Conversations and messages"
// GET /conversations, POST /conversations/dm and POST /conversations/{cid}/read).
//
// Every route runs through the REST pipeline (src/gateway/rest_pipeline.hpp): the bearer token
// first (401), then path ids and the body (400), then one call into logic, whose errors become
// error_response(). Handlers never block: every wait is a co_await on logic.

#include <monochat/gateway/http.hpp>

namespace monochat::logic {
class accounts;
class social;
class conversations;
}  // namespace monochat::logic

namespace monochat::gateway {

struct rest_services {
    logic::accounts& accounts;
    logic::social& social;
    logic::conversations& conversations;
};

// Registers the routes under /api/v1. The services must outlive `routes`.
void add_rest_routes(router& routes, const rest_services& services);

}  // namespace monochat::gateway
