#pragma once
// HTTP routes of Web Push (issue 21; docs/protocol.md, "Web Push"):
//   GET    /api/v1/push/vapid-key                        -> 200 {"public_key"} (no token needed)
//   POST   /api/v1/push/subscriptions  PushSubscription  -> 201 {"subscription": {...}}
//   DELETE /api/v1/push/subscriptions?endpoint=<url>     -> 204

#include <monochat/gateway/http.hpp>
#include <monochat/gateway/message_routes.hpp>

namespace monochat::logic {
class web_push;
}

namespace monochat::gateway {

void add_push_routes(router& routes, authenticator authenticate, logic::web_push& push);

}  // namespace monochat::gateway
