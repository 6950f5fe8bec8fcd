#include <monochat/gateway/admin_routes.hpp>

#include <charconv>
#include <functional>

namespace monochat::gateway {

namespace {

namespace net = boost::asio;

constexpr std::size_t default_user_page = 100;
constexpr std::size_t max_user_page = 1000;

result<std::uint64_t> parse_u64(std::string_view text, std::string_view what) {
    std::uint64_t v = 0;
    const auto* end = text.data() + text.size();
    auto [p, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc{} || p != end || text.empty()) {
        return make_error(errc::invalid_argument, std::string(what) + " must be a decimal number");
    }
    return v;
}

http_response reply(const result<std::string>& r) {
    if (!r) {
        return error_response(r.error());
    }
    return http_response::json(200, *r);
}

// The work of one route once the caller is known to be an admin.
using admin_work =
    std::function<net::awaitable<result<std::string>>(admin_backend&, admin_caller, http_request&)>;

route_handler guarded(admin_backend& backend, admin_work work) {
    return [&backend, work = std::move(work)](http_request& req) -> net::awaitable<http_response> {
        const auto token = req.bearer_token();
        if (token.empty()) {
            co_return error_response(make_error(errc::unauthenticated, "a bearer token is required"));
        }
        auto uid = co_await backend.authorize(std::string(token));
        if (!uid) {
            co_return error_response(uid.error());
        }
        admin_caller who;
        who.user_id = *uid;
        who.client_address = req.client_address;
        who.trace_id = req.trace_id;
        auto r = co_await work(backend, std::move(who), req);
        co_return reply(r);
    };
}

net::awaitable<result<std::string>> with_user(
    admin_backend& b, admin_caller who, http_request& req,
    net::awaitable<result<std::string>> (admin_backend::*op)(admin_caller, std::uint64_t)) {
    auto id = parse_u64(req.param("user_id"), "user_id");
    if (!id) {
        co_return id.error();
    }
    co_return co_await (b.*op)(std::move(who), *id);
}

}  // namespace

void add_admin_routes(router& routes, admin_backend& backend) {
    const std::string base = "/api/v1/admin";
    routes.add(http_method::get, base + "/stats",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request&) {
                   return b.stats(std::move(who));
               }));
    routes.add(http_method::get, base + "/users",
               guarded(backend,
                       [](admin_backend& b, admin_caller who,
                          http_request& req) -> net::awaitable<result<std::string>> {
                           std::uint64_t after = 0;
                           std::size_t limit = default_user_page;
                           if (auto a = req.query_param("after")) {
                               auto v = parse_u64(*a, "after");
                               if (!v) {
                                   co_return v.error();
                               }
                               after = *v;
                           }
                           if (auto l = req.query_param("limit")) {
                               auto v = parse_u64(*l, "limit");
                               if (!v || *v == 0 || *v > max_user_page) {
                                   co_return make_error(errc::invalid_argument,
                                                        "limit must be 1 to 1000");
                               }
                               limit = static_cast<std::size_t>(*v);
                           }
                           co_return co_await b.list_users(std::move(who), after, limit);
                       }));
    routes.add(http_method::post, base + "/users/{user_id}/disconnect",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request& req) {
                   return with_user(b, std::move(who), req, &admin_backend::disconnect_user);
               }));
    routes.add(http_method::post, base + "/users/{user_id}/suspend",
               guarded(backend,
                       [](admin_backend& b, admin_caller who,
                          http_request& req) -> net::awaitable<result<std::string>> {
                           auto id = parse_u64(req.param("user_id"), "user_id");
                           if (!id) {
                               co_return id.error();
                           }
                           co_return co_await b.suspend_user(std::move(who), *id, true);
                       }));
    routes.add(http_method::del, base + "/users/{user_id}/suspend",
               guarded(backend,
                       [](admin_backend& b, admin_caller who,
                          http_request& req) -> net::awaitable<result<std::string>> {
                           auto id = parse_u64(req.param("user_id"), "user_id");
                           if (!id) {
                               co_return id.error();
                           }
                           co_return co_await b.suspend_user(std::move(who), *id, false);
                       }));
    routes.add(http_method::del, base + "/users/{user_id}",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request& req) {
                   return with_user(b, std::move(who), req, &admin_backend::delete_user);
               }));
    routes.add(http_method::del, base + "/conversations/{conversation_id}/messages/{seq}",
               guarded(backend,
                       [](admin_backend& b, admin_caller who,
                          http_request& req) -> net::awaitable<result<std::string>> {
                           auto seq = parse_u64(req.param("seq"), "seq");
                           if (!seq || *seq == 0) {
                               co_return make_error(errc::invalid_argument,
                                                    "seq must be a positive number");
                           }
                           std::string cid(req.param("conversation_id"));
                           co_return co_await b.delete_message(std::move(who), std::move(cid),
                                                               *seq);
                       }));
    routes.add(http_method::get, base + "/settings",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request&) {
                   return b.settings(std::move(who));
               }));
    routes.add(http_method::patch, base + "/settings",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request& req) {
                   return b.change_settings(std::move(who), req.body);
               }));
    routes.add(http_method::post, base + "/reload",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request&) {
                   return b.reload(std::move(who));
               }));
    routes.add(http_method::post, base + "/backup",
               guarded(backend, [](admin_backend& b, admin_caller who, http_request&) {
                   return b.backup(std::move(who));
               }));
    routes.add(http_method::get, base + "/messages/{message_id}/trace",
               guarded(backend,
                       [](admin_backend& b, admin_caller who,
                          http_request& req) -> net::awaitable<result<std::string>> {
                           auto id = parse_u64(req.param("message_id"), "message_id");
                           if (!id) {
                               co_return id.error();
                           }
                           co_return co_await b.trace(std::move(who), *id);
                       }));
}

}  // namespace monochat::gateway
