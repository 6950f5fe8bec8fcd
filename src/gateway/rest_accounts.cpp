// Accounts: /auth/register, /auth/login, /auth/guest, /auth/logout, /me, /users.

#include <monochat/logic/accounts.hpp>
#include <monochat/logic/validation.hpp>

#include "gateway/connection_limits.hpp"
#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

namespace net = boost::asio;
using json_util::object_writer;

std::string session_body(const logic::auth_result& r) {
    return object_writer().raw("user", logic::to_json(r.user)).string("token", r.token).finish();
}

std::string user_body(const logic::user_info& u) {
    return object_writer().raw("user", logic::to_json(u)).finish();
}

}  // namespace

// The login and registration limits count per address as the connection limits do: an IPv4
// address, or an IPv6 /64 (address_key), so one IPv6 subscriber cannot rotate through 2^64
// budgets and lockouts.
void add_account_routes(router& routes, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;

    routes.add(http_method::post, "/api/v1/auth/register",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto username = json_util::required_string(*body, "username");
                   if (!username) {
                       co_return error_response(username.error());
                   }
                   auto password = json_util::required_string(*body, "password");
                   if (!password) {
                       co_return error_response(password.error());
                   }
                   auto display_name = json_util::optional_string(*body, "display_name");
                   if (!display_name) {
                       co_return error_response(display_name.error());
                   }
                   auto r = co_await accounts->register_user(
                       std::move(*username), std::move(*password), std::move(*display_name),
                       address_key(req.client_address));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return json_reply(201, session_body(*r));
               });

    routes.add(http_method::post, "/api/v1/auth/login",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto username = json_util::required_string(*body, "username");
                   if (!username) {
                       co_return error_response(username.error());
                   }
                   auto password = json_util::required_string(*body, "password");
                   if (!password) {
                       co_return error_response(password.error());
                   }
                   auto r = co_await accounts->login(std::move(*username), std::move(*password),
                                                     address_key(req.client_address));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return json_reply(200, session_body(*r));
               });

    routes.add(http_method::post, "/api/v1/auth/guest",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   // Every field is optional: no body at all is a guest with a default name.
                   auto body = json_util::parse_object(req.body, true);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto display_name = json_util::optional_string(*body, "display_name");
                   if (!display_name) {
                       co_return error_response(display_name.error());
                   }
                   auto r = co_await accounts->create_guest(std::move(*display_name),
                                                            address_key(req.client_address));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return json_reply(201, session_body(*r));
               });

    routes.add(http_method::post, "/api/v1/auth/logout",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto r = co_await accounts->logout(std::move(*who));
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::no_content();
               });

    routes.add(http_method::get, "/api/v1/me",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   const auto user_id = who->user_id;
                   auto u = co_await accounts->me(std::move(*who));
                   if (!u) {
                       co_return error_response(u.error());
                   }
                   // Whether the admin API answers this user (auth.admins, live), so that a
                   // client shows admin tools without probing the admin routes.
                   auto admin = co_await accounts->is_admin(user_id);
                   if (!admin) {
                       co_return error_response(admin.error());
                   }
                   co_return json_reply(200, object_writer()
                                                 .raw("user", logic::to_json(*u))
                                                 .raw("admin", *admin ? "true" : "false")
                                                 .finish());
               });

    routes.add(http_method::get, "/api/v1/users/{user_id}",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto id = path_id(req, "user_id");
                   if (!id) {
                       co_return error_response(id.error());
                   }
                   auto u = co_await accounts->get_user(std::move(*who), *id);
                   if (!u) {
                       co_return error_response(u.error());
                   }
                   co_return json_reply(200, user_body(*u));
               });

    routes.add(http_method::get, "/api/v1/users",
               [accounts](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto limit = logic::parse_limit(req.query_param("limit"));
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   // A missing q is the service's invalid_argument (after the guest check).
                   const std::string q(req.query_param("q").value_or(""));
                   auto users = co_await accounts->search(std::move(*who), q, *limit);
                   if (!users) {
                       co_return error_response(users.error());
                   }
                   std::vector<std::string> items;
                   items.reserve(users->size());
                   for (const auto& u : *users) {
                       items.push_back(logic::to_json(u));
                   }
                   co_return json_reply(200, object_writer().array("users", items).finish());
               });
}

}  // namespace monochat::gateway
