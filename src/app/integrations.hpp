#pragma once
// The backend of the integration routes (gateway/integration_routes.hpp): bot accounts through
// the accounts service, webhooks through the webhook service, and every action written to the
// audit log. Private to app.

#include <monochat/gateway/integration_routes.hpp>
#include <string>
#include <string_view>

#include "app/operations.hpp"

namespace monochat::logic {
class accounts;
class webhooks;
}  // namespace monochat::logic

namespace monochat::app {

struct integrations_dependencies {
    audit_log& audit;
    logic::accounts& accounts;
    logic::webhooks& webhooks;
};

class integrations_service final : public gateway::integrations_backend {
public:
    explicit integrations_service(integrations_dependencies deps) : d_(deps) {}

    boost::asio::awaitable<result<std::string>> create_bot(
        gateway::admin_caller who, std::string username,
        std::optional<std::string> display_name) override;
    boost::asio::awaitable<result<std::string>> rotate_bot_token(gateway::admin_caller who,
                                                                 std::uint64_t user_id) override;
    boost::asio::awaitable<result<std::string>> revoke_bot_tokens(gateway::admin_caller who,
                                                                  std::uint64_t user_id) override;

    boost::asio::awaitable<result<std::string>> create_webhook(gateway::admin_caller who,
                                                               gateway::webhook_spec spec) override;
    boost::asio::awaitable<result<std::string>> list_webhooks(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> get_webhook(gateway::admin_caller who,
                                                            std::uint64_t webhook_id) override;
    boost::asio::awaitable<result<std::string>> delete_webhook(gateway::admin_caller who,
                                                               std::uint64_t webhook_id) override;

private:
    // Writes the audit record of an action and passes its result through.
    result<std::string> audited(const gateway::admin_caller& who, std::string_view action,
                                std::string_view target, result<std::string> r);

    integrations_dependencies d_;
};

}  // namespace monochat::app
