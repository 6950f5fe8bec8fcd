#pragma once
// The admin HTTP API under /api/v1/admin (docs/protocol.md, "Admin"). Gateway parses requests,
// checks the caller through the backend and maps results to HTTP; the backend (wired in app,
// where the configuration, the stores and every service are in reach) does the work and
// writes the audit log.
//
// Every route answers 401 without a valid bearer token and 403 to a caller without the admin
// role, before looking at anything else in the request.
// Thread-safety: handlers run on connection strands; the backend must accept concurrent calls.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <monochat/gateway/http.hpp>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>

namespace monochat::gateway {

// The authenticated admin behind a request.
struct admin_caller {
    std::uint64_t user_id = 0;
    std::string client_address;
    std::string trace_id;
};

// Results are JSON object texts, written to the response body as they are.
class admin_backend {
public:
    virtual ~admin_backend() = default;

    // The caller of `bearer_token`: unauthenticated (401) or forbidden (403, not an admin).
    virtual boost::asio::awaitable<result<std::uint64_t>> authorize(std::string bearer_token) = 0;

    virtual boost::asio::awaitable<result<std::string>> stats(admin_caller who) = 0;
    // Registered users and guests, ascending ids after `after`, at most `limit`.
    virtual boost::asio::awaitable<result<std::string>> list_users(admin_caller who,
                                                                   std::uint64_t after,
                                                                   std::size_t limit) = 0;
    // Closes every WebSocket session of the user (4003).
    virtual boost::asio::awaitable<result<std::string>> disconnect_user(admin_caller who,
                                                                        std::uint64_t user_id) = 0;
    // Suspends (closes sessions, revokes tokens, refuses logins) or lifts a suspension.
    virtual boost::asio::awaitable<result<std::string>> suspend_user(admin_caller who,
                                                                     std::uint64_t user_id,
                                                                     bool suspended) = 0;
    virtual boost::asio::awaitable<result<std::string>> delete_user(admin_caller who,
                                                                    std::uint64_t user_id) = 0;
    // An account made by the admin: `{"user"}`.
    virtual boost::asio::awaitable<result<std::string>> create_user(
        admin_caller who, std::string username, std::string password,
        std::optional<std::string> display_name) = 0;
    // Registration invites: `{"invite": {"code", "uses_left", "expires_at"}}`, the list
    // `{"invites": [...]}`, and deleting one.
    virtual boost::asio::awaitable<result<std::string>> create_invite(
        admin_caller who, std::int64_t uses, std::optional<std::int64_t> expires_in_s) = 0;
    virtual boost::asio::awaitable<result<std::string>> list_invites(admin_caller who) = 0;
    virtual boost::asio::awaitable<result<std::string>> delete_invite(admin_caller who,
                                                                      std::string code) = 0;
    // A password reset token for a registered user: `{"reset_token", "expires_at"}`.
    virtual boost::asio::awaitable<result<std::string>> password_reset(admin_caller who,
                                                                       std::uint64_t user_id) = 0;
    // Mutes in world (contract v1.1): `duration_s` 0 is until lifted; lifting; the list
    // `{"mutes": [{"user_id", "until"}]}` (until: Unix ms, null until lifted).
    virtual boost::asio::awaitable<result<std::string>> mute_in_world(admin_caller who,
                                                                      std::uint64_t user_id,
                                                                      std::int64_t duration_s) = 0;
    virtual boost::asio::awaitable<result<std::string>> unmute_in_world(admin_caller who,
                                                                        std::uint64_t user_id) = 0;
    virtual boost::asio::awaitable<result<std::string>> world_mutes(admin_caller who) = 0;
    // Recalls message `seq` of the conversation for everyone (an admin recall in the log).
    virtual boost::asio::awaitable<result<std::string>> delete_message(admin_caller who,
                                                                       std::string conversation_id,
                                                                       std::uint64_t seq) = 0;
    // Live settings: read, or change with a JSON object of live keys.
    virtual boost::asio::awaitable<result<std::string>> settings(admin_caller who) = 0;
    virtual boost::asio::awaitable<result<std::string>> change_settings(admin_caller who,
                                                                        std::string patch) = 0;
    // Re-reads the configuration file, as SIGHUP does.
    virtual boost::asio::awaitable<result<std::string>> reload(admin_caller who) = 0;
    // An online backup into a new directory; answers its path.
    virtual boost::asio::awaitable<result<std::string>> backup(admin_caller who) = 0;
    // "Where is my message?": the trace buffer's stages plus the stored state.
    virtual boost::asio::awaitable<result<std::string>> trace(admin_caller who,
                                                              std::uint64_t message_id) = 0;
};

// Registers every admin route. `backend` must outlive the router.
void add_admin_routes(router& routes, admin_backend& backend);

}  // namespace monochat::gateway
