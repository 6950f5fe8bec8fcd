#pragma once
// The admin API of integrations (issue 21; docs/integrations.md): bot accounts and outgoing
// webhooks, under /api/v1/admin behind the same admin gate as admin_routes.hpp (401 without a
// valid bearer token, 403 without the admin role, before anything else is looked at).
// Gateway parses requests and maps results to HTTP; the backend (wired in app) does the work
// through the services that own it and writes the audit log.
//
// Thread-safety: handlers run on connection strands; the backend must accept concurrent calls.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/gateway/admin_routes.hpp>
#include <monochat/gateway/http.hpp>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::gateway {

// A webhook registration as sent (POST /admin/webhooks); the backend validates it.
struct webhook_spec {
    std::string url;
    std::vector<std::string> events;
    std::optional<std::vector<std::string>> conversation_ids;
};

// Results are JSON object texts, written to the response body as they are.
class integrations_backend {
public:
    virtual ~integrations_backend() = default;

    // ---- bots ----
    // `{"user", "token"}`. Errors: invalid_argument, conflict (username taken).
    virtual boost::asio::awaitable<result<std::string>> create_bot(
        admin_caller who, std::string username, std::optional<std::string> display_name) = 0;
    // `{"user", "token"}`: the bot's new token; the old ones stop working. Errors: not_found.
    virtual boost::asio::awaitable<result<std::string>> rotate_bot_token(admin_caller who,
                                                                         std::uint64_t user_id) = 0;
    // Every token of the bot stops working. Errors: not_found.
    virtual boost::asio::awaitable<result<std::string>> revoke_bot_tokens(
        admin_caller who, std::uint64_t user_id) = 0;

    // ---- webhooks ----
    // `{"webhook", "secret"}` (201). Errors: invalid_argument (url, events, conversation ids,
    // a refused address), conflict (webhooks.max_webhooks reached).
    virtual boost::asio::awaitable<result<std::string>> create_webhook(admin_caller who,
                                                                       webhook_spec spec) = 0;
    // `{"webhooks": [...]}`, each with its delivery status.
    virtual boost::asio::awaitable<result<std::string>> list_webhooks(admin_caller who) = 0;
    // `{"webhook"}` with its delivery status. Errors: not_found.
    virtual boost::asio::awaitable<result<std::string>> get_webhook(admin_caller who,
                                                                    std::uint64_t webhook_id) = 0;
    // Errors: not_found.
    virtual boost::asio::awaitable<result<std::string>> delete_webhook(
        admin_caller who, std::uint64_t webhook_id) = 0;

};

// Registers the bot and webhook routes. `admin` names the caller (as for admin_routes);
// both must outlive the router.
void add_integration_routes(router& routes, admin_backend& admin, integrations_backend& backend);

}  // namespace monochat::gateway
