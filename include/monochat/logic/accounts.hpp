#pragma once
// Accounts: registration, login, guests, logout, bearer-token authentication and user lookup
// (shared/protocol.md, "Accounts"; docs/protocol.md for the choices made here).
//
// Passwords are hashed with Argon2id (libsodium) at the cost of `auth.argon2_ops` and
// `auth.argon2_memory_kib`, on a thread pool of the service's own, never on the caller's
// (network) thread. A wrong username and a wrong password get the same answer after the same
// work: an unknown username is verified against a dummy hash of the current cost.
//
// Tokens: see tokens.hpp. authenticate() answers from a bounded in-memory cache of token hash ->
// identity; logout removes the token from the store and the cache at once, so no request that
// starts after logout returns is accepted with it, and asks gateway (a `close_token` delivery)
// to close the WebSockets opened with it with 4001.
//
// Abuse limits: `limits.auth_rate` registrations, logins and guest creations per client address
// per minute (rate_limited with Retry-After). Failed logins are counted per username and per
// client address within `auth.login_failure_window_s`: each one slows the next attempt down (a
// timer, no thread is held), and at `auth.login_max_failures` the key is refused with
// rate_limited for `auth.login_lockout_s`.
//
// Expiry: sweep() purges expired tokens and guests idle longer than `auth.guest_ttl_s`, in
// writes of at most `auth.sweep_batch` rows. A guest is idle when it has no live connection and
// made no authenticated request for that long; authenticate() records a guest's activity in
// the store at most every quarter of the TTL (one write per guest per period, not per request).
// A purged guest's messages stay; get_user then answers it as a deleted user.
//
// Thread-safety: every member may be called from any thread. Awaitables resume on the awaiting
// coroutine's executor.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/dependencies.hpp>
#include <monochat/logic/wire.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::logic {

struct auth_result {
    user_info user;
    std::string token;  // the bearer token; only ever returned here, never stored or logged
};

// A user as the admin API lists it.
struct admin_user_info {
    user_info user;
    bool suspended = false;
    bool admin = false;
    std::int64_t created_ms = 0;
};

// One live token of a user (GET /me/sessions).
struct session_info {
    std::uint64_t session_id = 0;
    std::int64_t created_ms = 0;
    std::int64_t last_used_ms = 0;
    std::string user_agent;
    bool current = false;  // the token of the request that asked
};

// PATCH /me: each field that is present changes; at least one must be.
struct profile_change {
    std::optional<std::string> display_name;
    // Present and empty: the avatar is cleared.
    std::optional<std::optional<std::uint64_t>> avatar_file_id;
};

// A password reset an admin (or the offline command) hands to a user.
struct password_reset {
    std::string reset_token;  // returned only here, stored only as a hash
    std::int64_t expires_ms = 0;
};

// A registration invite as admins see it.
struct invite_info {
    std::string code;
    std::uint64_t uses_left = 0;
    std::int64_t expires_ms = 0;  // 0: never
};

// What one sweep removed.
struct sweep_result {
    std::uint64_t tokens = 0;
    std::uint64_t guests = 0;
};

struct accounts_options {
    // Threads hashing and verifying passwords; 0: one per core. Default: 0.
    std::size_t hashing_threads = 0;
    // Hash or verify jobs queued at most; beyond it a registration or login fails at once with
    // unavailable instead of queueing without bound behind a flood. Default: 1024.
    std::size_t max_pending_hashes = 1024;
    // Token hashes remembered by authenticate() (least recently used dropped first).
    // Default: 100000.
    std::size_t token_cache_entries = 100000;
    // Slow-down of logins after failures: `login_delay_base` after the first, doubling, at most
    // `login_delay_cap`. Defaults: 100 ms, 2 s.
    std::chrono::milliseconds login_delay_base{100};
    std::chrono::milliseconds login_delay_cap{2000};
};

class accounts {
public:
    accounts() = default;
    virtual ~accounts() = default;
    accounts(const accounts&) = delete;
    accounts& operator=(const accounts&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // Follows `auth.registration` (live): "open" ignores `invite_code`, "invite" needs a valid
    // one (one use of it is taken in the same write as the user), "closed" refuses everyone.
    // `user_agent` names the session the new token is (GET /me/sessions).
    // Errors: rate_limited, invalid_argument (the rules of validation.hpp), conflict (username
    // taken), forbidden (registration closed; invite code missing, unknown, used up or
    // expired), unavailable (hashing saturated, storage).
    virtual task<auth_result> register_user(std::string username, std::string password,
                                            std::optional<std::string> display_name,
                                            std::string client_address,
                                            std::string user_agent = {},
                                            std::optional<std::string> invite_code = {}) = 0;
    // Errors: rate_limited (rate or lockout), unauthenticated (wrong username or password,
    // one message for both), unavailable.
    virtual task<auth_result> login(std::string username, std::string password,
                                    std::string client_address, std::string user_agent = {}) = 0;
    // A guest named `display_name`, or `guest-<user_id>`. Errors: forbidden (`auth.guests` is
    // off), rate_limited, invalid_argument, unavailable.
    virtual task<auth_result> create_guest(std::optional<std::string> display_name,
                                           std::string client_address,
                                           std::string user_agent = {}) = 0;
    // Revokes the token `who` authenticated with. Other tokens of the user stay valid.
    virtual task<void> logout(identity who) = 0;
    // The caller of a bearer token. Errors: unauthenticated (missing, malformed, unknown or
    // expired token), unavailable.
    virtual task<identity> authenticate(std::string bearer_token) = 0;

    // Errors: unauthenticated (the user is gone).
    virtual task<user_info> me(identity who) = 0;
    // Any user, guests included, for any caller; a purged guest as a deleted user
    // (user_info::deleted). Errors: not_found.
    virtual task<user_info> get_user(identity who, std::uint64_t user_id) = 0;
    // Registered users whose username starts with `prefix` (ASCII letters folded to lower
    // case), ascending by username, at most `limit`. Errors: forbidden (guest caller),
    // invalid_argument (empty prefix).
    virtual task<std::vector<user_info>> search(identity who, std::string prefix,
                                                std::size_t limit) = 0;

    // ---- the caller's own account (contract v1.1, "Accounts and sessions") ----

    // Errors: invalid_argument (the display name rule), unauthenticated (the user is gone).
    virtual task<user_info> update_profile(identity who, std::string display_name) = 0;
    // Display name and avatar in one write. An avatar must be an image the caller uploaded
    // (logic/files.hpp, avatar_files); it is pinned in the file store before the user row names
    // it, and the pins of earlier avatars go after. Errors: invalid_argument (no field; the
    // display name rule; not an image), forbidden (someone else's file), not_found (no such
    // file), unauthenticated (the user is gone), unavailable.
    virtual task<user_info> update_profile(identity who, profile_change change) = 0;
    // Checks `current_password`, stores the new one and revokes every other token of the user
    // (their connections close with 4001); the caller's token stays. Failed checks count as
    // failed logins of the user (auth.login_max_failures). Errors: forbidden (wrong current
    // password, guests), invalid_argument (new password rule), rate_limited, unavailable.
    virtual task<void> change_password(identity who, std::string current_password,
                                       std::string new_password) = 0;
    // The user's unexpired tokens, oldest first.
    virtual task<std::vector<session_info>> sessions(identity who) = 0;
    // That token stops working at once and its connections close with 4001.
    // Errors: not_found (no such session of this user).
    virtual task<void> revoke_session(identity who, std::uint64_t session_id) = 0;
    // Every token of the user, the caller's included; every connection closes with 4001.
    virtual task<void> logout_all(identity who) = 0;
    // Checks the password, then deletes the account as delete_user does and keeps the id and
    // the username as deleted (messages stay, shown as "Deleted user"; the name is never
    // registered again). Errors: forbidden (wrong password, guests), conflict (owns a group),
    // rate_limited.
    virtual task<void> delete_account(identity who, std::string password) = 0;
    // Sets a new password with a reset token (once, before it expires); every older token of
    // the user stops working; answers a new token. Errors: forbidden (unknown, used or expired
    // token; a suspended user), invalid_argument, rate_limited (auth.rate per address).
    virtual task<auth_result> reset_password(std::string reset_token, std::string new_password,
                                             std::string client_address,
                                             std::string user_agent = {}) = 0;

    // ---- administration (the admin API checks its callers with is_admin) ----

    // An account made by an admin, whatever `auth.registration` says; no token is issued.
    // Errors: invalid_argument, conflict (username taken), unavailable.
    virtual task<user_info> create_user(std::string username, std::string password,
                                        std::optional<std::string> display_name) = 0;
    // A registration invite of `uses` uses (1 to auth.max_invite_uses), expiring `expires_in_s`
    // from now (absent: never). Errors: invalid_argument.
    virtual task<invite_info> create_invite(std::uint64_t created_by, std::int64_t uses,
                                            std::optional<std::int64_t> expires_in_s) = 0;
    // Every invite, used-up and expired ones included, newest first.
    virtual task<std::vector<invite_info>> list_invites() = 0;
    // Errors: not_found.
    virtual task<void> delete_invite(std::string code) = 0;
    // A reset token for a registered user, valid for 24 hours, once; issuing one leaves the
    // password and sessions as they are. Errors: not_found (no such user, or a guest).
    virtual task<password_reset> issue_password_reset(std::uint64_t user_id) = 0;

    // ---- bot accounts (issue 21; docs/integrations.md) ----

    // A bot: a registered user with no password (it can never log in with one) and a
    // long-lived token (no expiry; stored hashed like every token), made in one write. The
    // token is answered only here and by rotate_bot_token. Errors: invalid_argument (username or
    // display name rule), conflict (username taken), unavailable.
    virtual task<auth_result> create_bot(std::string username,
                                         std::optional<std::string> display_name) = 0;
    // A new token for the bot; every older one stops working at once (its connections close
    // with 4001). One write. Errors: not_found (no such user, or not a bot).
    virtual task<auth_result> rotate_bot_token(std::uint64_t user_id) = 0;
    // Every token of the bot stops working (connections close with 4001) until a rotation
    // issues a new one. Errors: not_found (no such user, or not a bot).
    virtual task<void> revoke_bot_tokens(std::uint64_t user_id) = 0;

    // True for registered users named in `auth.admins` (the live value); false for guests,
    // bots and unknown users. There is no other way to be an admin.
    virtual task<bool> is_admin(std::uint64_t user_id) = 0;
    // Users (guests included) with ids above `after`, ascending, at most `limit`.
    virtual task<std::vector<admin_user_info>> list_users(std::uint64_t after,
                                                          std::size_t limit) = 0;
    // Suspends a user (every token revoked, logins refused with forbidden) or lifts it.
    // Errors: not_found.
    virtual task<void> set_suspended(std::uint64_t user_id, bool suspended) = 0;
    // Deletes the user with its tokens, friendships, memberships and read state; messages stay
    // in the log. Errors: not_found, conflict (the user owns a group).
    virtual task<void> delete_user(std::uint64_t user_id) = 0;

    // ---- expiry ----

    // Deletes expired tokens, then purges idle guests (tokens, read state and sessions go; the
    // token cache forgets them), each in writes of `auth.sweep_batch`. Called on a timer by the
    // composition root; the work runs on the store's threads. Errors: unavailable (storage;
    // what was purged before the error stays purged).
    virtual task<sweep_result> sweep() = 0;
};

// The Argon2id hash of a new password at the configured cost, checked by the password rule, on
// the calling thread: for the offline `monochat user add`, which runs without a service.
// Errors: invalid_argument (the password rule), internal.
[[nodiscard]] result<std::string> hash_new_password(const infra::config& cfg,
                                                    std::string_view password);

// The service; starts its hashing threads (joined on destruction) and computes the dummy hash
// once, which takes one hash's time.
[[nodiscard]] std::unique_ptr<accounts> make_accounts(const dependencies& deps,
                                                      accounts_options options = {});

}  // namespace monochat::logic
