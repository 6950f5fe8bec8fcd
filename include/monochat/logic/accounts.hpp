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

    // Errors: rate_limited, invalid_argument (the rules of validation.hpp), conflict (username
    // taken), unavailable (hashing saturated, storage).
    virtual task<auth_result> register_user(std::string username, std::string password,
                                            std::optional<std::string> display_name,
                                            std::string client_address) = 0;
    // Errors: rate_limited (rate or lockout), unauthenticated (wrong username or password,
    // one message for both), unavailable.
    virtual task<auth_result> login(std::string username, std::string password,
                                    std::string client_address) = 0;
    // A guest named `display_name`, or `guest-<user_id>`. Errors: rate_limited,
    // invalid_argument, unavailable.
    virtual task<auth_result> create_guest(std::optional<std::string> display_name,
                                           std::string client_address) = 0;
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

    // ---- administration (the admin API checks its callers with is_admin) ----

    // True for registered users named in `auth.admins` (the live value); false for guests and
    // unknown users. There is no other way to be an admin.
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

// The service; starts its hashing threads (joined on destruction) and computes the dummy hash
// once, which takes one hash's time.
[[nodiscard]] std::unique_ptr<accounts> make_accounts(const dependencies& deps,
                                                      accounts_options options = {});

}  // namespace monochat::logic
