#pragma once
// HTTP routes of messages, sharing logic's messaging service with the WebSocket frames:
//   GET  /api/v1/conversations/{cid}/messages?after_seq=&before_seq=&limit=
//   POST /api/v1/conversations/{cid}/messages   {"client_msg_id", "body"}
//   GET  /api/v1/conversations/{cid}/online
//   GET  /api/v1/conversations/{cid}/messages/{seq}/readers

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <monochat/gateway/http.hpp>
#include <monochat/logic/access.hpp>
#include <string>

namespace monochat::logic {
class messaging_service;
}

namespace monochat::gateway {

using authenticator =
    std::function<boost::asio::awaitable<result<logic::identity>>(std::string token)>;

void add_message_routes(router& routes, authenticator authenticate,
                        logic::messaging_service& messaging);

}  // namespace monochat::gateway
