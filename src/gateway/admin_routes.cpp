#include <monochat/gateway/admin_routes.hpp>

#include <monochat/logic/validation.hpp>

#include "gateway/admin_gate.hpp"
#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

namespace {

constexpr std::size_t default_user_page = 100;
constexpr std::size_t max_user_page = 1000;

// The backend answers JSON object texts; they are the 200 body as they are.
result<http_response> ok(result<std::string>&& r) {
    return rest::answer(std::move(r), 200, [](std::string& body) { return std::move(body); });
}

result<http_response> created(result<std::string>&& r) {
    return rest::answer(std::move(r), 201, [](std::string& body) { return std::move(body); });
}

struct new_user {
    std::string username;
    std::string password;
    std::optional<std::string> display_name;

    static result<new_user> from_json(const json_util::json& j) {
        auto username = json_util::required_string(j, "username");
        if (!username) {
            return username.error();
        }
        auto password = json_util::required_string(j, "password");
        if (!password) {
            return password.error();
        }
        auto display_name = json_util::optional_string(j, "display_name");
        if (!display_name) {
            return display_name.error();
        }
        return new_user{std::move(*username), std::move(*password), std::move(*display_name)};
    }
};

// POST /admin/invites: every field optional (one use, no expiry).
struct new_invite {
    static constexpr bool may_be_empty = true;
    std::int64_t uses = 1;
    std::optional<std::int64_t> expires_in_s;

    static result<new_invite> from_json(const json_util::json& j) {
        new_invite out;
        auto uses = json_util::optional_integer(j, "uses");
        if (!uses) {
            return uses.error();
        }
        out.uses = uses->value_or(1);
        auto expires = json_util::optional_integer(j, "expires_in_s");
        if (!expires) {
            return expires.error();
        }
        out.expires_in_s = *expires;
        return out;
    }
};

// POST /admin/world/mutes.
struct new_world_mute {
    std::uint64_t user_id = 0;
    std::int64_t duration_s = 0;

    static result<new_world_mute> from_json(const json_util::json& j) {
        auto user_id = json_util::required_id(j, "user_id");
        if (!user_id) {
            return user_id.error();
        }
        auto duration = json_util::optional_integer(j, "duration_s");
        if (!duration) {
            return duration.error();
        }
        if (!*duration) {
            return make_error(errc::invalid_argument, "duration_s is required (0: until lifted)");
        }
        return new_world_mute{*user_id, **duration};
    }
};

}  // namespace

rest::gate<admin_caller> admin_gate(admin_backend& backend) {
    return [&backend](const http_request& req) -> rest::net::awaitable<result<admin_caller>> {
        const auto token = req.bearer_token();
        if (token.empty()) {
            co_return make_error(errc::unauthenticated, "a bearer token is required");
        }
        auto uid = co_await backend.authorize(std::string(token));
        if (!uid) {
            co_return uid.error();
        }
        admin_caller who;
        who.user_id = *uid;
        who.client_address = req.client_address;
        who.trace_id = req.trace_id;
        co_return who;
    };
}

void add_admin_routes(router& routes, admin_backend& backend) {
    rest::endpoints<admin_caller> api(routes, "/api/v1/admin", admin_gate(backend));
    admin_backend* const b = &backend;

    api.add(http_method::get, "/stats", [b](admin_caller who, const rest::request&) -> rest::reply {
        co_return ok(co_await b->stats(std::move(who)));
    });
    api.add(http_method::get, "/users",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                std::uint64_t after = 0;
                std::size_t limit = default_user_page;
                if (auto a = r.query("after")) {
                    auto v = logic::parse_number(*a, "after");
                    if (!v) {
                        co_return v.error();
                    }
                    after = *v;
                }
                if (auto l = r.query("limit")) {
                    auto v = logic::parse_number(*l, "limit");
                    if (!v || *v == 0 || *v > max_user_page) {
                        co_return make_error(errc::invalid_argument, "limit must be 1 to 1000");
                    }
                    limit = static_cast<std::size_t>(*v);
                }
                co_return ok(co_await b->list_users(std::move(who), after, limit));
            });
    api.add(http_method::post, "/users/{user_id}/disconnect",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->disconnect_user(std::move(who), r.number("user_id")));
            });
    api.add(http_method::post, "/users/{user_id}/suspend",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->suspend_user(std::move(who), r.number("user_id"), true));
            });
    api.add(http_method::del, "/users/{user_id}/suspend",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->suspend_user(std::move(who), r.number("user_id"), false));
            });
    api.add(http_method::del, "/users/{user_id}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->delete_user(std::move(who), r.number("user_id")));
            });
    api.add<new_user>(http_method::post, "/users",
                      [b](admin_caller who, const rest::request&, new_user u) -> rest::reply {
                          co_return created(co_await b->create_user(
                              std::move(who), std::move(u.username), std::move(u.password),
                              std::move(u.display_name)));
                      });
    api.add<new_invite>(http_method::post, "/invites",
                        [b](admin_caller who, const rest::request&, new_invite i) -> rest::reply {
                            co_return created(
                                co_await b->create_invite(std::move(who), i.uses, i.expires_in_s));
                        });
    api.add(http_method::get, "/invites", [b](admin_caller who, const rest::request&) -> rest::reply {
        co_return ok(co_await b->list_invites(std::move(who)));
    });
    api.add(http_method::del, "/invites/{code}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                auto done = co_await b->delete_invite(std::move(who), std::string(r.text("code")));
                if (!done) {
                    co_return done.error();
                }
                co_return http_response::no_content();
            });
    api.add(http_method::post, "/users/{user_id}/password-reset",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->password_reset(std::move(who), r.number("user_id")));
            });
    api.add(http_method::del, "/conversations/{cid}/messages/{seq}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                if (r.number("seq") == 0) {
                    co_return make_error(errc::invalid_argument, "seq must be a positive number");
                }
                co_return ok(co_await b->delete_message(std::move(who), std::string(r.text("cid")),
                                                        r.number("seq")));
            });
    api.add<new_world_mute>(
        http_method::post, "/world/mutes",
        [b](admin_caller who, const rest::request&, new_world_mute m) -> rest::reply {
            auto done = co_await b->mute_in_world(std::move(who), m.user_id, m.duration_s);
            if (!done) {
                co_return done.error();
            }
            co_return http_response::no_content();
        });
    api.add(http_method::get, "/world/mutes",
            [b](admin_caller who, const rest::request&) -> rest::reply {
                co_return ok(co_await b->world_mutes(std::move(who)));
            });
    api.add(http_method::del, "/world/mutes/{user_id}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                auto done = co_await b->unmute_in_world(std::move(who), r.number("user_id"));
                if (!done) {
                    co_return done.error();
                }
                co_return http_response::no_content();
            });
    api.add(http_method::get, "/settings",
            [b](admin_caller who, const rest::request&) -> rest::reply {
                co_return ok(co_await b->settings(std::move(who)));
            });
    api.add(http_method::patch, "/settings",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->change_settings(std::move(who), r.http().body));
            });
    api.add(http_method::post, "/reload", [b](admin_caller who, const rest::request&) -> rest::reply {
        co_return ok(co_await b->reload(std::move(who)));
    });
    api.add(http_method::post, "/backup", [b](admin_caller who, const rest::request&) -> rest::reply {
        co_return ok(co_await b->backup(std::move(who)));
    });
    api.add(http_method::get, "/messages/{message_id}/trace",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->trace(std::move(who), r.number("message_id")));
            });
}

}  // namespace monochat::gateway
