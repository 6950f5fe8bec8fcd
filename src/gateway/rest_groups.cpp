// Groups: /groups (creating, and the public directory), /groups/{group_id}, its members, roles
// and joining.

#include <monochat/logic/accounts.hpp>
#include <monochat/logic/social.hpp>
#include <monochat/logic/validation.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

namespace net = boost::asio;
using json_util::object_writer;

std::string group_body(const logic::group_info& g) {
    return object_writer().raw("group", logic::to_json(g)).finish();
}

}  // namespace

void add_group_routes(router& routes, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;
    logic::social* const social = &services.social;

    routes.add(http_method::post, "/api/v1/groups",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto name = json_util::required_string(*body, "name");
                   if (!name) {
                       co_return error_response(name.error());
                   }
                   auto members = json_util::id_array(*body, "member_ids", false);
                   if (!members) {
                       co_return error_response(members.error());
                   }
                   auto is_public = json_util::optional_bool(*body, "public");
                   if (!is_public) {
                       co_return error_response(is_public.error());
                   }
                   auto g = co_await social->create_group(std::move(*who), std::move(*name),
                                                          std::move(*members),
                                                          is_public->value_or(false));
                   if (!g) {
                       co_return error_response(g.error());
                   }
                   co_return json_reply(201, group_body(*g));
               });

    // The directory of public groups (issue 19): GET /groups?public=true&q=&after=&limit=.
    // `public=true` is required, so that a later listing of one's own groups can take the
    // other spelling without changing what this one means.
    routes.add(http_method::get, "/api/v1/groups",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   if (req.query_param("public") != std::optional<std::string_view>("true")) {
                       co_return error_response(make_error(
                           errc::invalid_argument, "only the public directory is listed: "
                                                   "add public=true"));
                   }
                   std::uint64_t after = 0;
                   if (const auto text = req.query_param("after")) {
                       auto a = logic::parse_id(*text, "after");
                       if (!a) {
                           co_return error_response(a.error());
                       }
                       after = *a;
                   }
                   auto limit = logic::parse_limit(req.query_param("limit"));
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   std::string q(req.query_param("q").value_or(std::string_view()));
                   auto page = co_await social->public_groups(std::move(*who), std::move(q), after,
                                                              *limit);
                   if (!page) {
                       co_return error_response(page.error());
                   }
                   co_return json_reply(
                       200, object_writer()
                                .array("groups", json_items(page->groups))
                                .raw("next", page->next ? json_util::quote(std::to_string(*page->next))
                                                        : std::string("null"))
                                .finish());
               });

    routes.add(http_method::get, "/api/v1/groups/{group_id}",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   auto g = co_await social->get_group(std::move(*who), *gid);
                   if (!g) {
                       co_return error_response(g.error());
                   }
                   co_return json_reply(200, group_body(*g));
               });

    routes.add(http_method::get, "/api/v1/groups/{group_id}/members",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   std::uint64_t after = 0;
                   if (const auto text = req.query_param("after")) {
                       auto a = logic::parse_id(*text, "after");
                       if (!a) {
                           co_return error_response(a.error());
                       }
                       after = *a;
                   }
                   auto limit = logic::parse_limit(req.query_param("limit"));
                   if (!limit) {
                       co_return error_response(limit.error());
                   }
                   auto page = co_await social->list_members(std::move(*who), *gid, after, *limit);
                   if (!page) {
                       co_return error_response(page.error());
                   }
                   co_return json_reply(
                       200, object_writer()
                                .array("members", json_items(page->members))
                                .raw("next", page->next ? json_util::quote(std::to_string(*page->next))
                                                        : std::string("null"))
                                .finish());
               });

    routes.add(http_method::post, "/api/v1/groups/{group_id}/members",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto ids = json_util::id_array(*body, "user_ids", true);
                   if (!ids) {
                       co_return error_response(ids.error());
                   }
                   auto g = co_await social->add_members(std::move(*who), *gid, std::move(*ids));
                   if (!g) {
                       co_return error_response(g.error());
                   }
                   co_return json_reply(200, group_body(*g));
               });

    routes.add(http_method::del, "/api/v1/groups/{group_id}/members/{user_id}",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   auto uid = path_id(req, "user_id");
                   if (!uid) {
                       co_return error_response(uid.error());
                   }
                   auto r = co_await social->remove_member(std::move(*who), *gid, *uid);
                   if (!r) {
                       co_return error_response(r.error());
                   }
                   co_return http_response::no_content();
               });

    routes.add(http_method::patch, "/api/v1/groups/{group_id}/members/{user_id}",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   auto uid = path_id(req, "user_id");
                   if (!uid) {
                       co_return error_response(uid.error());
                   }
                   auto body = json_util::parse_object(req.body);
                   if (!body) {
                       co_return error_response(body.error());
                   }
                   auto role = json_util::required_string(*body, "role");
                   if (!role) {
                       co_return error_response(role.error());
                   }
                   auto g = co_await social->set_member_role(std::move(*who), *gid, *uid,
                                                             std::move(*role));
                   if (!g) {
                       co_return error_response(g.error());
                   }
                   co_return json_reply(200, group_body(*g));
               });

    routes.add(http_method::post, "/api/v1/groups/{group_id}/join",
               [accounts, social](http_request& req) -> net::awaitable<http_response> {
                   auto who = co_await authenticate(*accounts, req);
                   if (!who) {
                       co_return error_response(who.error());
                   }
                   auto gid = path_id(req, "group_id");
                   if (!gid) {
                       co_return error_response(gid.error());
                   }
                   auto g = co_await social->join_group(std::move(*who), *gid);
                   if (!g) {
                       co_return error_response(g.error());
                   }
                   co_return json_reply(200, group_body(*g));
               });
}

}  // namespace monochat::gateway
