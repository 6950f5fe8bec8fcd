// Friends: /friends/requests, /friends.

#include <monochat/logic/accounts.hpp>
#include <monochat/logic/social.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

namespace net = boost::asio;
using json_util::object_writer;

std::string request_body(const logic::friend_request_info& r) {
    return object_writer().raw("request", logic::to_json(r)).finish();
}

}  // namespace

void add_friend_routes(router& routes, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;
    logic::social* const social = &services.social;

    routes.add(http_method::post, "/api/v1/friends/requests",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto to = json_util::required_id(*body, "user_id");
                   if (!to) {
                       co_return error_response(to.error());
                   }
                   auto note = json_util::optional_string(*body, "note");
                   if (!note) {
                       co_return error_response(note.error());
                   }
                   auto r = co_await social->send_friend_request(std::move(*who), *to,
                                                                 note->value_or(""));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   // A crossing request answers with theirs, accepted: nothing was created.
                   co_return json_reply(r->accepted_existing ? 200 : 201, request_body(r->request));
               });

    routes.add(http_method::get, "/api/v1/friends/requests",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto lists = co_await social->list_friend_requests(std::move(*who));
                   if (!lists) {
                       co_return error_response(lists.error());
                   }
                   co_return json_reply(200, object_writer()
                                                 .array("incoming", json_items(lists->incoming))
                                                 .array("outgoing", json_items(lists->outgoing))
                                                 .finish());
               });

    routes.add(http_method::post, "/api/v1/friends/requests/{request_id}/accept",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto id = path_id(req, "request_id");
                   if (!id) {
                       co_return error_response(id.error());
                   }
                   auto r = co_await social->accept_friend_request(std::move(*who), *id);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return json_reply(200, request_body(*r));
               });

    routes.add(http_method::post, "/api/v1/friends/requests/{request_id}/reject",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto id = path_id(req, "request_id");
                   if (!id) {
                       co_return error_response(id.error());
                   }
                   auto r = co_await social->reject_friend_request(std::move(*who), *id);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return json_reply(200, request_body(*r));
               });

    routes.add(http_method::get, "/api/v1/friends",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto friends = co_await social->list_friends(std::move(*who));
                   if (!friends) {
                       co_return error_response(friends.error());
                   }
                   co_return json_reply(
                       200, object_writer().array("friends", json_items(*friends)).finish());
               });

    routes.add(http_method::del, "/api/v1/friends/{user_id}",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto id = path_id(req, "user_id");
                   if (!id) {
                       co_return error_response(id.error());
                   }
                   auto r = co_await social->remove_friend(std::move(*who), *id);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::no_content();
               });
}

}  // namespace monochat::gateway
