#include <monochat/gateway/push_routes.hpp>

#include <monochat/logic/push.hpp>

#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

namespace {

// POST /push/subscriptions: what the browser's PushSubscription.toJSON() gives
// ({"endpoint", "expirationTime", "keys": {"p256dh", "auth"}}); expirationTime is ignored.
struct subscription_body {
    logic::push_subscription s;

    static result<subscription_body> from_json(const json_util::json& j) {
        subscription_body out;
        auto endpoint = json_util::required_string(j, "endpoint");
        if (!endpoint) {
            return endpoint.error();
        }
        out.s.endpoint = std::move(*endpoint);
        if (!j.contains("keys") || !j["keys"].is_object()) {
            return make_error(errc::invalid_argument, "keys must be an object");
        }
        const auto& keys = j["keys"];
        auto p256dh = json_util::required_string(keys, "p256dh");
        if (!p256dh) {
            return make_error(errc::invalid_argument, "keys." + p256dh.error().message);
        }
        auto auth = json_util::required_string(keys, "auth");
        if (!auth) {
            return make_error(errc::invalid_argument, "keys." + auth.error().message);
        }
        out.s.p256dh = std::move(*p256dh);
        out.s.auth = std::move(*auth);
        return out;
    }
};

}  // namespace

void add_push_routes(router& routes, authenticator authenticate, logic::web_push& push) {
    logic::web_push* const p = &push;
    rest::endpoints<rest::anyone> open(routes, "/api/v1", rest::open());
    open.add(http_method::get, "/push/vapid-key",
             [p](rest::anyone, const rest::request&) -> rest::reply {
                 co_return http_response::json(
                     200, json_util::object_writer().string("public_key", p->vapid_public_key()).finish());
             });

    rest::endpoints<logic::identity> api(routes, "/api/v1", rest::bearer(std::move(authenticate)));
    api.add<subscription_body>(
        http_method::post, "/push/subscriptions",
        [p](logic::identity who, const rest::request&, subscription_body b) -> rest::reply {
            const std::string endpoint = b.s.endpoint;
            co_return rest::answer(
                co_await p->subscribe(std::move(who), std::move(b.s)), 201,
                [&endpoint](std::int64_t created_ms) {
                    const auto sub = json_util::object_writer()
                                         .string("endpoint", endpoint)
                                         .raw("created_at", std::to_string(created_ms))
                                         .finish();
                    return json_util::object_writer().raw("subscription", sub).finish();
                });
        });
    api.add(http_method::del, "/push/subscriptions",
            [p](logic::identity who, const rest::request& r) -> rest::reply {
                const auto endpoint = r.query("endpoint");
                if (!endpoint || endpoint->empty()) {
                    co_return make_error(errc::invalid_argument, "endpoint is required");
                }
                co_return rest::no_content(
                    co_await p->unsubscribe(std::move(who), std::string(*endpoint)));
            });
}

}  // namespace monochat::gateway
