// Conversations: GET /conversations, POST /conversations/dm, PATCH /conversations/{cid} (the
// caller's mute), POST /conversations/{cid}/read.
// History, sending, online counts and readers belong to the messaging routes.

#include <algorithm>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/conversations.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {
namespace net = boost::asio;
using json_util::object_writer;
}  // namespace

void add_conversation_routes(router& routes, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;
    logic::conversations* const conversations = &services.conversations;

    routes.add(http_method::get, "/api/v1/conversations",
               [accounts, conversations](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto list = co_await conversations->list(std::move(*who));
                   if (!list) {
                       co_return error_response(list.error());
                   }
                   co_return json_reply(
                       200, object_writer().array("conversations", json_items(*list)).finish());
               });

    routes.add(http_method::post, "/api/v1/conversations/dm",
               [accounts, conversations](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto peer = json_util::required_id(*body, "user_id");
                   if (!peer) {
                       co_return error_response(peer.error());
                   }
                   auto cid = co_await conversations->direct_id(std::move(*who), *peer);
                   if (!cid) {
                       co_return error_response(cid.error());
                   }
                   co_return json_reply(200,
                                        object_writer().string("conversation_id", *cid).finish());
               });

    routes.add(http_method::patch, "/api/v1/conversations/{cid}",
               [accounts, conversations](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto ref = logic::parse_conversation_id(req.param("cid"));
                   if (!ref) {
                       co_return error_response(ref.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto until = json_util::required_unsigned(*body, "muted_until");
                   if (!until) {
                       co_return error_response(until.error());
                   }
                   // Past the largest accepted time: still out of range after the narrowing.
                   const auto wanted = static_cast<std::int64_t>(std::min<std::uint64_t>(
                       *until, static_cast<std::uint64_t>(logic::max_muted_until_ms) + 1));
                   const std::string cid = ref->id;
                   auto stored = co_await conversations->set_muted_until(
                       std::move(*who), std::move(*ref), wanted);
                   if (!stored) {
                       co_return error_response(stored.error());
                   }
                   co_return json_reply(200, object_writer()
                                                 .string("conversation_id", cid)
                                                 .raw("muted_until", std::to_string(*stored))
                                                 .finish());
               });

    routes.add(http_method::post, "/api/v1/conversations/{cid}/read",
               [accounts, conversations](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto ref = logic::parse_conversation_id(req.param("cid"));
                   if (!ref) {
                       co_return error_response(ref.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto seq = json_util::required_unsigned(*body, "seq");
                   if (!seq) {
                       co_return error_response(seq.error());
                   }
                   auto r = co_await conversations->mark_read(std::move(*who), std::move(*ref),
                                                              *seq);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::no_content();
               });
}

}  // namespace monochat::gateway
