#include <monochat/gateway/integration_routes.hpp>

#include "gateway/admin_gate.hpp"
#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

namespace {

result<http_response> ok(result<std::string>&& r) {
    return rest::answer(std::move(r), 200, [](std::string& body) { return std::move(body); });
}

result<http_response> created(result<std::string>&& r) {
    return rest::answer(std::move(r), 201, [](std::string& body) { return std::move(body); });
}

// POST /admin/bots
struct new_bot {
    std::string username;
    std::optional<std::string> display_name;

    static result<new_bot> from_json(const json_util::json& j) {
        auto username = json_util::required_string(j, "username");
        if (!username) {
            return username.error();
        }
        auto display_name = json_util::optional_string(j, "display_name");
        if (!display_name) {
            return display_name.error();
        }
        return new_bot{std::move(*username), std::move(*display_name)};
    }
};

// POST /admin/webhooks
struct new_webhook {
    webhook_spec spec;

    static result<std::vector<std::string>> strings(const json_util::json& j,
                                                    std::string_view field) {
        const auto& v = j.at(std::string(field));
        if (!v.is_array()) {
            return make_error(errc::invalid_argument,
                              std::string(field) + " must be an array of strings");
        }
        std::vector<std::string> out;
        out.reserve(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                return make_error(errc::invalid_argument, std::string(field) + "[" +
                                                              std::to_string(i) +
                                                              "] must be a string");
            }
            out.push_back(v[i].get<std::string>());
        }
        return out;
    }

    static result<new_webhook> from_json(const json_util::json& j) {
        new_webhook out;
        auto url = json_util::required_string(j, "url");
        if (!url) {
            return url.error();
        }
        out.spec.url = std::move(*url);
        if (!j.contains("events") || j["events"].is_null()) {
            return make_error(errc::invalid_argument, "events is required");
        }
        auto events = strings(j, "events");
        if (!events) {
            return events.error();
        }
        out.spec.events = std::move(*events);
        if (j.contains("conversation_ids") && !j["conversation_ids"].is_null()) {
            auto ids = strings(j, "conversation_ids");
            if (!ids) {
                return ids.error();
            }
            out.spec.conversation_ids = std::move(*ids);
        }
        return out;
    }
};

}  // namespace

void add_integration_routes(router& routes, admin_backend& admin, integrations_backend& backend) {
    rest::endpoints<admin_caller> api(routes, "/api/v1/admin", admin_gate(admin));
    integrations_backend* const b = &backend;

    api.add<new_bot>(http_method::post, "/bots",
                     [b](admin_caller who, const rest::request&, new_bot n) -> rest::reply {
                         co_return created(co_await b->create_bot(
                             std::move(who), std::move(n.username), std::move(n.display_name)));
                     });
    api.add(http_method::post, "/bots/{user_id}/token",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->rotate_bot_token(std::move(who), r.number("user_id")));
            });
    api.add(http_method::del, "/bots/{user_id}/token",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                auto done = co_await b->revoke_bot_tokens(std::move(who), r.number("user_id"));
                if (!done) {
                    co_return done.error();
                }
                co_return http_response::no_content();
            });

    api.add<new_webhook>(http_method::post, "/webhooks",
                         [b](admin_caller who, const rest::request&, new_webhook w) -> rest::reply {
                             co_return created(
                                 co_await b->create_webhook(std::move(who), std::move(w.spec)));
                         });
    api.add(http_method::get, "/webhooks",
            [b](admin_caller who, const rest::request&) -> rest::reply {
                co_return ok(co_await b->list_webhooks(std::move(who)));
            });
    api.add(http_method::get, "/webhooks/{webhook_id}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                co_return ok(co_await b->get_webhook(std::move(who), r.number("webhook_id")));
            });
    api.add(http_method::del, "/webhooks/{webhook_id}",
            [b](admin_caller who, const rest::request& r) -> rest::reply {
                auto done = co_await b->delete_webhook(std::move(who), r.number("webhook_id"));
                if (!done) {
                    co_return done.error();
                }
                co_return http_response::no_content();
            });
}

}  // namespace monochat::gateway
