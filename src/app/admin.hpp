#pragma once
// The admin API's backend (gateway/admin_routes.hpp): checks the admin role, does each action
// through the service that owns it, and writes every action to the audit log. Private to app.

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <monochat/gateway/admin_routes.hpp>
#include <monochat/infra/live_config.hpp>
#include <string>

#include "app/operations.hpp"

namespace monochat::gateway {
class connection_registry;
}
namespace monochat::infra {
class message_traces;
}
namespace monochat::logic {
class file_service;
class accounts;
class messaging_service;
class social;
}  // namespace monochat::logic
namespace monochat::storage {
class message_log;
class admin_store;
class read_state_store;
class webhook_store;
}  // namespace monochat::storage

namespace monochat::app {

struct admin_dependencies {
    const infra::live_config& live;
    config_reloader& reloader;
    audit_log& audit;
    logic::accounts& accounts;
    logic::social& social_service;
    logic::messaging_service& messaging;
    storage::message_log& log;
    storage::admin_store& admin_store;   // the social store's backup
    storage::read_state_store& read_state;
    gateway::connection_registry& registry;
    const infra::message_traces& traces;
    // Server counters that live in other objects: a JSON object text.
    std::function<std::string()> server_stats;
    // Uploaded files (files.db and the blobs) into a backup directory; null: none.
    logic::file_service* files = nullptr;
    // Outgoing webhooks' registrations and cursors (webhooks.db) into a backup; null: none.
    storage::webhook_store* webhooks = nullptr;
};

class admin_service final : public gateway::admin_backend {
public:
    explicit admin_service(admin_dependencies deps);

    boost::asio::awaitable<result<std::uint64_t>> authorize(std::string bearer_token) override;
    boost::asio::awaitable<result<std::string>> stats(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> list_users(gateway::admin_caller who,
                                                           std::uint64_t after,
                                                           std::size_t limit) override;
    boost::asio::awaitable<result<std::string>> disconnect_user(gateway::admin_caller who,
                                                                std::uint64_t user_id) override;
    boost::asio::awaitable<result<std::string>> suspend_user(gateway::admin_caller who,
                                                             std::uint64_t user_id,
                                                             bool suspended) override;
    boost::asio::awaitable<result<std::string>> delete_user(gateway::admin_caller who,
                                                            std::uint64_t user_id) override;
    boost::asio::awaitable<result<std::string>> password_reset(gateway::admin_caller who,
                                                               std::uint64_t user_id) override;
    boost::asio::awaitable<result<std::string>> create_user(
        gateway::admin_caller who, std::string username, std::string password,
        std::optional<std::string> display_name) override;
    boost::asio::awaitable<result<std::string>> create_invite(
        gateway::admin_caller who, std::int64_t uses,
        std::optional<std::int64_t> expires_in_s) override;
    boost::asio::awaitable<result<std::string>> list_invites(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> delete_invite(gateway::admin_caller who,
                                                              std::string code) override;
    boost::asio::awaitable<result<std::string>> mute_in_world(gateway::admin_caller who,
                                                              std::uint64_t user_id,
                                                              std::int64_t duration_s) override;
    boost::asio::awaitable<result<std::string>> unmute_in_world(gateway::admin_caller who,
                                                                std::uint64_t user_id) override;
    boost::asio::awaitable<result<std::string>> world_mutes(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> delete_message(gateway::admin_caller who,
                                                               std::string conversation_id,
                                                               std::uint64_t seq) override;
    boost::asio::awaitable<result<std::string>> settings(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> change_settings(gateway::admin_caller who,
                                                                std::string patch) override;
    boost::asio::awaitable<result<std::string>> reload(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> backup(gateway::admin_caller who) override;
    boost::asio::awaitable<result<std::string>> trace(gateway::admin_caller who,
                                                      std::uint64_t message_id) override;

private:
    // Writes the audit record of an action and passes its result through.
    result<std::string> audited(const gateway::admin_caller& who, std::string_view action,
                                std::string_view target, result<std::string> r,
                                std::string_view detail = {});

    admin_dependencies d_;
    // Backups' blocking step (the RocksDB checkpoint).
    boost::asio::thread_pool pool_{1};
    const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace monochat::app
