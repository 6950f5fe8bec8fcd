// Accounts: /auth/register, /auth/login, /auth/guest, /auth/reset, /auth/logout,
// /auth/logout-all, /me (profile, password, sessions, deletion), /users.

#include <monochat/logic/accounts.hpp>
#include <monochat/logic/validation.hpp>

#include "gateway/connection_limits.hpp"
#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

using json_util::json;
using json_util::object_writer;

std::string session_body(const logic::auth_result& r) {
    return object_writer().raw("user", logic::to_json(r.user)).string("token", r.token).finish();
}

std::string user_body(const logic::user_info& u) { return rest::wrapped("user", logic::to_json(u)); }

struct registration {
    std::string username;
    std::string password;
    std::optional<std::string> display_name;
    std::optional<std::string> invite_code;

    static result<registration> from_json(const json& j) {
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
        auto invite_code = json_util::optional_string(j, "invite_code");
        if (!invite_code) {
            return invite_code.error();
        }
        return registration{std::move(*username), std::move(*password), std::move(*display_name),
                            std::move(*invite_code)};
    }
};

struct credentials {
    std::string username;
    std::string password;

    static result<credentials> from_json(const json& j) {
        auto username = json_util::required_string(j, "username");
        if (!username) {
            return username.error();
        }
        auto password = json_util::required_string(j, "password");
        if (!password) {
            return password.error();
        }
        return credentials{std::move(*username), std::move(*password)};
    }
};

// Every field is optional: no body at all is a guest with a default name.
struct guest_request {
    static constexpr bool may_be_empty = true;
    std::optional<std::string> display_name;

    static result<guest_request> from_json(const json& j) {
        auto display_name = json_util::optional_string(j, "display_name");
        if (!display_name) {
            return display_name.error();
        }
        return guest_request{std::move(*display_name)};
    }
};

// One string field, required.
template <const char* Field>
struct one_string {
    std::string value;

    static result<one_string> from_json(const json& j) {
        auto v = json_util::required_string(j, Field);
        if (!v) {
            return v.error();
        }
        return one_string{std::move(*v)};
    }
};
constexpr char password_field[] = "password";

// PATCH /me: `display_name` and `avatar_file_id` (an id string, or null to clear it).
struct profile_body {
    logic::profile_change change;

    static result<profile_body> from_json(const json& j) {
        auto display_name = json_util::optional_string(j, "display_name");
        if (!display_name) {
            return display_name.error();
        }
        profile_body b;
        b.change.display_name = std::move(*display_name);
        if (const auto it = j.find("avatar_file_id"); it != j.end()) {
            if (it->is_null()) {
                b.change.avatar_file_id.emplace(std::nullopt);
            } else {
                auto id = json_util::required_id(j, "avatar_file_id");
                if (!id) {
                    return id.error();
                }
                b.change.avatar_file_id.emplace(*id);
            }
        }
        return b;
    }
};
struct password_change {
    std::string current_password;
    std::string new_password;

    static result<password_change> from_json(const json& j) {
        auto current = json_util::required_string(j, "current_password");
        if (!current) {
            return current.error();
        }
        auto next = json_util::required_string(j, "new_password");
        if (!next) {
            return next.error();
        }
        return password_change{std::move(*current), std::move(*next)};
    }
};

struct password_reset_use {
    std::string reset_token;
    std::string new_password;

    static result<password_reset_use> from_json(const json& j) {
        auto token = json_util::required_string(j, "reset_token");
        if (!token) {
            return token.error();
        }
        auto next = json_util::required_string(j, "new_password");
        if (!next) {
            return next.error();
        }
        return password_reset_use{std::move(*token), std::move(*next)};
    }
};

std::string sessions_body(const std::vector<logic::session_info>& sessions) {
    std::vector<std::string> items;
    items.reserve(sessions.size());
    for (const auto& s : sessions) {
        items.push_back(object_writer()
                            .string("session_id", std::to_string(s.session_id))
                            .raw("created_at", std::to_string(s.created_ms))
                            .raw("last_used_at", std::to_string(s.last_used_ms))
                            .string("user_agent", s.user_agent)
                            .raw("current", s.current ? "true" : "false")
                            .finish());
    }
    return object_writer().array("sessions", items).finish();
}

}  // namespace

// The login and registration limits count per address as the connection limits do: an IPv4
// address, or an IPv6 /64 (address_key), so one IPv6 subscriber cannot rotate through 2^64
// budgets and lockouts.
void add_account_routes(rest::endpoints<logic::identity>& api, const rest_services& services) {
    logic::accounts* const accounts = &services.accounts;
    rest::endpoints<rest::anyone> open(api.routes(), std::string(api_prefix), rest::open());

    open.add<registration>(
        http_method::post, "/auth/register",
        [accounts](rest::anyone from, const rest::request&, registration b) -> rest::reply {
            co_return rest::answer(
                co_await accounts->register_user(std::move(b.username), std::move(b.password),
                                                 std::move(b.display_name),
                                                 address_key(from.client_address),
                                                 std::move(from.user_agent),
                                                 std::move(b.invite_code)),
                201, session_body);
        });

    open.add<credentials>(
        http_method::post, "/auth/login",
        [accounts](rest::anyone from, const rest::request&, credentials b) -> rest::reply {
            co_return rest::answer(
                co_await accounts->login(std::move(b.username), std::move(b.password),
                                         address_key(from.client_address),
                                         std::move(from.user_agent)),
                200, session_body);
        });

    open.add<guest_request>(
        http_method::post, "/auth/guest",
        [accounts](rest::anyone from, const rest::request&, guest_request b) -> rest::reply {
            co_return rest::answer(
                co_await accounts->create_guest(std::move(b.display_name),
                                                address_key(from.client_address),
                                                std::move(from.user_agent)),
                201, session_body);
        });

    open.add<password_reset_use>(
        http_method::post, "/auth/reset",
        [accounts](rest::anyone from, const rest::request&, password_reset_use b) -> rest::reply {
            co_return rest::answer(
                co_await accounts->reset_password(std::move(b.reset_token),
                                                  std::move(b.new_password),
                                                  address_key(from.client_address),
                                                  std::move(from.user_agent)),
                200, session_body);
        });

    api.add(http_method::post, "/auth/logout-all",
            [accounts](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::no_content(co_await accounts->logout_all(std::move(who)));
            });

    api.add<profile_body>(
        http_method::patch, "/me",
        [accounts](logic::identity who, const rest::request&, profile_body b) -> rest::reply {
            co_return rest::answer(
                co_await accounts->update_profile(std::move(who), std::move(b.change)), 200,
                user_body);
        });

    api.add<one_string<password_field>>(
        http_method::del, "/me",
        [accounts](logic::identity who, const rest::request&,
                   one_string<password_field> b) -> rest::reply {
            co_return rest::no_content(
                co_await accounts->delete_account(std::move(who), std::move(b.value)));
        });

    api.add<password_change>(
        http_method::post, "/me/password",
        [accounts](logic::identity who, const rest::request&, password_change b) -> rest::reply {
            co_return rest::no_content(co_await accounts->change_password(
                std::move(who), std::move(b.current_password), std::move(b.new_password)));
        });

    api.add(http_method::get, "/me/sessions",
            [accounts](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::answer(co_await accounts->sessions(std::move(who)), 200,
                                       sessions_body);
            });

    api.add(http_method::del, "/me/sessions/{session_id}",
            [accounts](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::no_content(
                    co_await accounts->revoke_session(std::move(who), r.number("session_id")));
            });

    api.add(http_method::post, "/auth/logout",
            [accounts](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::no_content(co_await accounts->logout(std::move(who)));
            });

    api.add(http_method::get, "/me",
            [accounts](logic::identity who, const rest::request&) -> rest::reply {
                const auto user_id = who.user_id;
                auto u = co_await accounts->me(std::move(who));
                if (!u) {
                    co_return u.error();
                }
                // Whether the admin API answers this user (auth.admins, live), so that a client
                // shows admin tools without probing the admin routes.
                auto admin = co_await accounts->is_admin(user_id);
                if (!admin) {
                    co_return admin.error();
                }
                co_return http_response::json(200, object_writer()
                                                       .raw("user", logic::to_json(*u))
                                                       .raw("admin", *admin ? "true" : "false")
                                                       .finish());
            });

    api.add(http_method::get, "/users/{user_id}",
            [accounts](logic::identity who, const rest::request& r) -> rest::reply {
                co_return rest::answer(
                    co_await accounts->get_user(std::move(who), r.number("user_id")), 200,
                    user_body);
            });

    api.add(http_method::get, "/users",
            [accounts](logic::identity who, const rest::request& r) -> rest::reply {
                auto limit = logic::parse_limit(r.query("limit"));
                if (!limit) {
                    co_return limit.error();
                }
                // A missing q is the service's invalid_argument (after the guest check).
                const std::string q(r.query("q").value_or(""));
                co_return rest::answer(
                    co_await accounts->search(std::move(who), q, *limit), 200,
                    [](const auto& users) {
                        return object_writer().array("users", json_items(users)).finish();
                    });
            });
}

}  // namespace monochat::gateway
