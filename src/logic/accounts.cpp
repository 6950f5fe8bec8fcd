#include <monochat/logic/accounts.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <limits>
#include <monochat/infra/blocking.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/delivery.hpp>
#include <monochat/logic/files.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/logic/rate_limit.hpp>
#include <monochat/logic/tokens.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/user_store.hpp>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "logic/convert.hpp"
#include "logic/events.hpp"
#include "logic/passwords.hpp"
#include "logic/token_cache.hpp"

namespace monochat::logic {

namespace {

namespace net = boost::asio;

constexpr std::uint16_t close_logged_out = 4001;
constexpr std::uint16_t close_suspended = 4003;
// How a purged user is shown (shared/protocol.md, DELETE /me).
constexpr std::string_view deleted_display_name = "Deleted user";
// Guests whose last recorded activity authenticate() remembers; past it the memory is cleared,
// which costs at most one extra write per active guest.
constexpr std::size_t max_remembered_guests = 100000;
// A guest's activity is written at most this often (a quarter of auth.guest_ttl_s, at most):
// an hour of error on a week's TTL.
constexpr std::int64_t max_touch_interval_ms = 3600LL * 1000;

argon2_cost cost_of(const infra::config& cfg) {
    return {static_cast<std::uint64_t>(cfg.auth.argon2_ops),
            static_cast<std::size_t>(cfg.auth.argon2_memory_kib) * 1024};
}

std::int64_t expiry_of(std::int64_t now_ms, std::int64_t ttl_s) {
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    if (ttl_s > (max - now_ms) / 1000) {
        return max;
    }
    return now_ms + ttl_s * 1000;
}

error wrong_credentials() {
    return make_error(errc::unauthenticated, "wrong username or password");
}
error username_taken() { return make_error(errc::conflict, "username is taken"); }
error bad_token() { return make_error(errc::unauthenticated, "invalid or expired token"); }

// A session's User-Agent as stored and listed: valid UTF-8, at most this many bytes (cut at a
// character boundary); anything else is dropped.
constexpr std::size_t max_user_agent_bytes = 256;
// Registration invite codes: hex characters of a fresh token.
constexpr std::size_t invite_code_chars = 24;
// How long an admin's password reset token works (shared/protocol.md: 24 h, once).
constexpr std::int64_t reset_ttl_ms = 24LL * 3600 * 1000;
// A session's last use is written at most this often per token: a minute of error in the
// session list, instead of a write per request.
constexpr std::int64_t token_touch_interval_ms = 60 * 1000;
// Tokens whose last written use authenticate() remembers; past it the memory is cleared.
constexpr std::size_t max_remembered_tokens = 100000;

std::string session_label(std::string user_agent) {
    if (!is_valid_utf8(user_agent)) {
        return {};
    }
    if (user_agent.size() > max_user_agent_bytes) {
        std::size_t cut = max_user_agent_bytes;
        while (cut > 0 && (static_cast<unsigned char>(user_agent[cut]) & 0xC0) == 0x80) {
            --cut;
        }
        user_agent.resize(cut);
    }
    return user_agent;
}

error wrong_password() { return make_error(errc::forbidden, "the password is wrong"); }

std::size_t thread_count(std::size_t wanted) {
    if (wanted > 0) {
        return wanted;
    }
    return std::max(1U, std::thread::hardware_concurrency());
}

class accounts_impl final : public accounts {
public:
    accounts_impl(const dependencies& deps, accounts_options options)
        : deps_(deps),
          options_(options),
          pool_(thread_count(options.hashing_threads)),
          rate_(deps.clock),
          guard_(deps.clock),
          cache_(options.token_cache_entries),
          events_(deps.bus, deps.groups, deps.config, deps.metrics, deps.group_sink, deps.members),
          hash_seconds_(deps.metrics.get_histogram(
              "monochat_password_hash_seconds",
              "Time to hash or verify one password (Argon2id), on the hashing pool.",
              infra::latency_buckets())),
          registered_(counter("register", "ok")),
          guests_(counter("guest", "ok")),
          logins_ok_(counter("login", "ok")),
          logins_failed_(counter("login", "failed")),
          logins_locked_(counter("login", "locked")),
          rate_limited_(counter("any", "rate_limited")),
          cache_hits_(deps.metrics.get_counter("monochat_token_cache_hits_total",
                                               "Bearer tokens answered from memory.")),
          cache_misses_(deps.metrics.get_counter("monochat_token_cache_misses_total",
                                                 "Bearer tokens looked up in the store.")),
          purged_tokens_(purged("token")),
          purged_guests_(purged("guest")) {
        deps.metrics.gauge_callback(
            "monochat_token_cache_entries", "Token hashes cached by authentication.", {},
            [this] { return static_cast<double>(cache_.size()); }, this);
        // The dummy hash makes a login for an unknown username cost what a real one costs.
        const argon2_cost cost = cost_of(*deps_.config.get());
        if (auto h = hash_password(new_token(), cost); h) {
            dummy_ = std::move(*h);
            dummy_cost_ = cost;
        }
    }

    ~accounts_impl() override {
        deps_.metrics.remove_callbacks(this);
        pool_.join();
    }

    task<auth_result> register_user(std::string username, std::string password,
                                    std::optional<std::string> display_name,
                                    std::string client_address, std::string user_agent,
                                    std::optional<std::string> invite_code) override {
        const auto cfg = deps_.config.get();
        if (auto st = check_auth_rate(*cfg, client_address); !st) {
            co_return st.error();
        }
        if (cfg->auth.registration == "closed") {
            co_return make_error(errc::forbidden, "registration is closed");
        }
        const bool by_invite = cfg->auth.registration == "invite";
        if (by_invite && (!invite_code || invite_code->empty())) {
            co_return make_error(errc::forbidden, "registration needs an invite code");
        }
        if (auto st = validate_username(username); !st) {
            co_return st.error();
        }
        if (auto st = validate_password(password); !st) {
            co_return st.error();
        }
        if (display_name) {
            if (auto st = validate_display_name(*display_name); !st) {
                co_return st.error();
            }
        }
        // A taken name is answered before the costly hash; create_user still decides races.
        auto existing = co_await deps_.users.get_user_by_username(username);
        if (existing) {
            co_return username_taken();
        }
        if (existing.error().code != errc::not_found) {
            co_return existing.error();
        }
        auto hashed = co_await hash(std::move(password), cost_of(*cfg));
        if (!hashed) {
            co_return hashed.error();
        }
        storage::user_record rec;
        rec.id = deps_.ids.next();
        rec.display_name = display_name.value_or(username);
        rec.username = std::move(username);
        rec.password_hash = std::move(*hashed);
        rec.created_ms = deps_.clock.now_ms();
        const std::int64_t now = rec.created_ms;
        result<storage::user_record> created = make_error(errc::internal, "not created");
        if (by_invite) {
            created = co_await deps_.users.create_invited_user(std::move(rec),
                                                               std::move(*invite_code), now);
        } else {
            created = co_await deps_.users.create_user(std::move(rec));
        }
        if (!created) {
            if (created.error().code == errc::conflict) {
                co_return username_taken();
            }
            co_return created.error();
        }
        registered_.inc();
        infra::log::debug("logic", "user registered",
                          {{"user_id", created->id}, {"username", created->username}});
        co_return co_await issue_token(*created, cfg->auth.token_ttl_s, std::move(user_agent));
    }

    task<auth_result> login(std::string username, std::string password,
                            std::string client_address, std::string user_agent) override {
        const auto cfg = deps_.config.get();
        if (auto st = check_auth_rate(*cfg, client_address); !st) {
            co_return st.error();
        }
        const login_guard_settings gs{cfg->auth.login_max_failures,
                                      cfg->auth.login_failure_window_s,
                                      cfg->auth.login_lockout_s};
        // Only names that could exist get a per-username counter, so that junk names cannot
        // fill the guard; the address counter sees every attempt.
        const bool plausible = validate_username(username).has_value();
        const std::string user_key = "user:" + (plausible ? username : std::string());
        const std::string addr_key = "addr:" + client_address;
        const auto by_addr = guard_.check(addr_key, gs);
        const auto by_user = plausible ? guard_.check(user_key, gs) : login_guard::verdict{};
        if (by_addr.locked || by_user.locked) {
            logins_locked_.inc();
            error e = make_error(errc::rate_limited, "too many failed logins; retry later");
            e.retry_after_s = std::max(by_addr.retry_after_s, by_user.retry_after_s);
            co_return e;
        }
        const auto delay = login_delay(std::max(by_addr.failures, by_user.failures),
                                       options_.login_delay_base, options_.login_delay_cap);
        if (delay.count() > 0) {
            // A timer, not a sleep: the connection's strand serves nothing else meanwhile, but
            // no thread is held.
            net::steady_timer timer(co_await net::this_coro::executor);
            timer.expires_after(delay);
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        std::optional<storage::user_record> user;
        if (plausible) {
            auto found = co_await deps_.users.get_user_by_username(username);
            if (found) {
                // A bot has no password: it is answered as an unknown name, after the same work.
                if (!found->bot) {
                    user = std::move(*found);
                }
            } else if (found.error().code != errc::not_found) {
                co_return found.error();
            }
        }
        // An unknown user is checked against the dummy hash: the same work, the same answer.
        // (Named first: GCC 12 miscompiles a ?: temporary passed to a coroutine in co_await.)
        std::string encoded;
        if (user) {
            encoded = user->password_hash;
        }
        auto ok = co_await verify(std::move(encoded), std::move(password), cost_of(*cfg));
        if (!ok) {
            co_return ok.error();
        }
        if (!*ok || !user) {
            guard_.record_failure(addr_key, gs);
            if (plausible) {
                guard_.record_failure(user_key, gs);
            }
            logins_failed_.inc();
            // The username stays out of the log: people type passwords into it.
            infra::log::info("logic", "login failed", {{"address", client_address}});
            co_return wrong_credentials();
        }
        guard_.record_success(user_key);
        if (user->suspended) {
            // Only after the password check: a suspension is not revealed to a guesser.
            infra::log::info("logic", "login refused: suspended", {{"user_id", user->id}});
            co_return make_error(errc::forbidden, "this account is suspended");
        }
        logins_ok_.inc();
        co_return co_await issue_token(*user, cfg->auth.token_ttl_s, std::move(user_agent));
    }

    task<auth_result> create_guest(std::optional<std::string> display_name,
                                   std::string client_address, std::string user_agent) override {
        const auto cfg = deps_.config.get();
        if (!cfg->auth.guests) {
            co_return make_error(errc::forbidden, "guest access is off");
        }
        if (auto st = check_auth_rate(*cfg, client_address); !st) {
            co_return st.error();
        }
        if (display_name) {
            if (auto st = validate_display_name(*display_name); !st) {
                co_return st.error();
            }
        }
        storage::user_record rec;
        rec.id = deps_.ids.next();
        // The id makes the name unique without a counter that a restart would reset.
        rec.username = "guest-" + std::to_string(rec.id);
        rec.display_name = display_name.value_or(rec.username);
        rec.guest = true;
        rec.created_ms = deps_.clock.now_ms();
        auto created = co_await deps_.users.create_user(std::move(rec));
        if (!created) {
            co_return created.error();
        }
        guests_.inc();
        co_return co_await issue_token(*created, cfg->auth.token_ttl_s, std::move(user_agent));
    }

    task<void> logout(identity who) override {
        auto st = co_await deps_.users.delete_token(who.token_hash);
        if (!st && st.error().code != errc::not_found) {
            co_return st.error();
        }
        // After the store: a lookup that read the token before the delete cannot cache it
        // now (token_cache's epoch).
        cache_.revoke(who.token_hash);
        delivery d;
        d.kind = delivery_kind::close_token;
        d.close_code = close_logged_out;
        d.frame = who.token_hash;
        events_.publish(std::to_string(who.user_id), d);
        co_return status{};
    }

    task<identity> authenticate(std::string bearer_token) override {
        if (bearer_token.empty()) {
            co_return make_error(errc::unauthenticated, "missing bearer token");
        }
        if (!is_well_formed_token(bearer_token)) {
            co_return bad_token();
        }
        std::string token_hash = hash_token(bearer_token);
        const std::int64_t now = deps_.clock.now_ms();
        if (auto hit = cache_.find(token_hash, now)) {
            cache_hits_.inc();
            co_await note_token_use(hit->token_hash, now);
            if (hit->guest) {
                co_await note_guest_activity(hit->user_id, now);
            }
            co_return std::move(*hit);
        }
        cache_misses_.inc();
        const std::uint64_t epoch = cache_.epoch();
        auto token = co_await deps_.users.lookup_token(token_hash);
        if (!token) {
            if (token.error().code == errc::not_found) {
                co_return bad_token();
            }
            co_return token.error();
        }
        if (token->expires_ms <= now) {
            // Dropping it is housekeeping; the answer is the same either way.
            auto dropped = co_await deps_.users.delete_token(token_hash);
            (void)dropped;
            co_return bad_token();
        }
        auto user = co_await deps_.users.get_user(token->user_id);
        if (!user) {
            if (user.error().code == errc::not_found) {
                co_return bad_token();
            }
            co_return user.error();
        }
        if (user->suspended) {
            co_return bad_token();
        }
        identity who{user->id, user->guest, std::move(token_hash), token->expires_ms};
        cache_.insert(epoch, who, token->expires_ms);
        co_await note_token_use(who.token_hash, now);
        if (who.guest) {
            co_await note_guest_activity(who.user_id, now);
        }
        co_return who;
    }

    task<user_info> me(identity who) override {
        auto user = co_await deps_.users.get_user(who.user_id);
        if (!user) {
            if (user.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the user no longer exists");
            }
            co_return user.error();
        }
        co_return to_info(*user, deps_.presence);
    }

    task<user_info> get_user(identity /*who*/, std::uint64_t user_id) override {
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            if (user.error().code != errc::not_found) {
                co_return user.error();
            }
            auto deleted = co_await deps_.users.is_deleted_user(user_id);
            if (!deleted) {
                co_return deleted.error();
            }
            if (!*deleted) {
                co_return make_error(errc::not_found, "no such user");
            }
            user_info gone;
            gone.user_id = user_id;
            gone.display_name = std::string(deleted_display_name);
            gone.deleted = true;
            co_return gone;
        }
        co_return to_info(*user, deps_.presence);
    }

    task<std::vector<user_info>> search(identity who, std::string prefix,
                                        std::size_t limit) override {
        if (who.guest) {
            co_return make_error(errc::forbidden, "guests may only use world");
        }
        if (prefix.empty()) {
            co_return make_error(errc::invalid_argument, "q is required");
        }
        // Usernames are lower case: fold the query so "Ali" finds "alice".
        for (char& c : prefix) {
            if (c >= 'A' && c <= 'Z') {
                c = static_cast<char>(c - 'A' + 'a');
            }
        }
        std::vector<user_info> out;
        if (prefix.size() > max_username_bytes) {
            co_return out;  // no username is that long
        }
        auto found = co_await deps_.users.search_users(std::move(prefix), limit);
        if (!found) {
            co_return found.error();
        }
        out.reserve(found->size());
        for (const auto& u : *found) {
            out.push_back(to_info(u, deps_.presence));
        }
        co_return out;
    }

    task<user_info> update_profile(identity who, std::string display_name) override {
        if (auto st = validate_display_name(display_name); !st) {
            co_return st.error();
        }
        auto user = co_await deps_.users.update_display_name(who.user_id, std::move(display_name));
        if (!user) {
            if (user.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the user no longer exists");
            }
            co_return user.error();
        }
        co_return to_info(*user, deps_.presence);
    }

    task<user_info> update_profile(identity who, profile_change change) override {
        if (!change.display_name && !change.avatar_file_id) {
            co_return make_error(errc::invalid_argument,
                                 "give display_name, avatar_file_id or both");
        }
        if (change.display_name) {
            if (auto st = validate_display_name(*change.display_name); !st) {
                co_return st.error();
            }
        }
        // The new avatar's pin comes first: the sweep never sees a user row naming an
        // unpinned file.
        const std::optional<std::uint64_t> avatar =
            change.avatar_file_id ? *change.avatar_file_id : std::nullopt;
        bool pinned_before = true;
        if (avatar) {
            if (deps_.avatars == nullptr) {
                co_return make_error(errc::unavailable, "avatars are not available");
            }
            auto pinned = co_await deps_.avatars->pin_avatar(who.user_id, *avatar);
            if (!pinned) {
                co_return pinned.error();
            }
            pinned_before = *pinned;
        }
        storage::profile_update update{std::move(change.display_name), change.avatar_file_id};
        auto user = co_await deps_.users.update_profile(who.user_id, std::move(update));
        if (!user) {
            if (avatar && !pinned_before) {
                // The row does not name the new file: its pin goes again.
                co_await deps_.avatars->unpin_avatar(who.user_id, *avatar);
            }
            if (user.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the user no longer exists");
            }
            co_return user.error();
        }
        if (change.avatar_file_id && deps_.avatars != nullptr) {
            co_await deps_.avatars->keep_only_avatar(who.user_id, user->avatar_file_id);
        }
        co_return to_info(*user, deps_.presence);
    }

    task<void> change_password(identity who, std::string current_password,
                               std::string new_password) override {
        if (who.guest) {
            co_return make_error(errc::forbidden, "guests have no password");
        }
        if (auto st = validate_password(new_password); !st) {
            co_return st.error();
        }
        if (auto st = co_await check_password(who.user_id, std::move(current_password)); !st) {
            co_return st.error();
        }
        auto hashed = co_await hash(std::move(new_password), cost_of(*deps_.config.get()));
        if (!hashed) {
            co_return hashed.error();
        }
        auto revoked =
            co_await deps_.users.set_password_hash(who.user_id, std::move(*hashed), who.token_hash);
        if (!revoked) {
            co_return revoked.error();
        }
        close_tokens(who.user_id, *revoked);
        infra::log::info("logic", "password changed",
                         {{"user_id", who.user_id}, {"sessions_revoked", revoked->size()}});
        co_return status{};
    }

    task<std::vector<session_info>> sessions(identity who) override {
        auto tokens = co_await deps_.users.list_user_tokens(who.user_id);
        if (!tokens) {
            co_return tokens.error();
        }
        const std::int64_t now = deps_.clock.now_ms();
        std::vector<session_info> out;
        out.reserve(tokens->size());
        for (auto& t : *tokens) {
            if (t.expires_ms <= now) {
                continue;
            }
            session_info s;
            s.session_id = t.session_id;
            s.created_ms = t.created_ms;
            s.last_used_ms = t.last_used_ms;
            s.user_agent = std::move(t.user_agent);
            s.current = t.token_hash == who.token_hash;
            out.push_back(std::move(s));
        }
        co_return out;
    }

    task<void> revoke_session(identity who, std::uint64_t session_id) override {
        auto hash = co_await deps_.users.delete_session(who.user_id, session_id);
        if (!hash) {
            co_return hash.error();
        }
        close_tokens(who.user_id, {*hash});
        co_return status{};
    }

    task<void> logout_all(identity who) override {
        auto revoked = co_await deps_.users.delete_other_tokens(who.user_id, std::string());
        if (!revoked) {
            co_return revoked.error();
        }
        cache_.revoke_user(who.user_id);
        close_user(who.user_id, close_logged_out);
        co_return status{};
    }

    task<void> delete_account(identity who, std::string password) override {
        if (who.guest) {
            co_return make_error(errc::forbidden, "guests have no account to delete");
        }
        if (auto st = co_await check_password(who.user_id, std::move(password)); !st) {
            co_return st.error();
        }
        if (auto st = co_await deps_.users.delete_account(who.user_id, deps_.clock.now_ms());
            !st) {
            co_return st.error();
        }
        cache_.revoke_user(who.user_id);
        close_user(who.user_id, close_logged_out);
        infra::log::info("logic", "account deleted by its user", {{"user_id", who.user_id}});
        co_return status{};
    }

    task<auth_result> reset_password(std::string reset_token, std::string new_password,
                                     std::string client_address,
                                     std::string user_agent) override {
        const auto cfg = deps_.config.get();
        if (auto st = check_auth_rate(*cfg, client_address); !st) {
            co_return st.error();
        }
        const auto refused = [] {
            return make_error(errc::forbidden, "the reset token is unknown, used or expired");
        };
        if (!is_well_formed_token(reset_token)) {
            co_return refused();
        }
        if (auto st = validate_password(new_password); !st) {
            co_return st.error();
        }
        // Hashed before the token is used up: a full hashing pool does not burn it.
        auto hashed = co_await hash(std::move(new_password), cost_of(*cfg));
        if (!hashed) {
            co_return hashed.error();
        }
        auto user = co_await deps_.users.consume_password_reset(
            hash_token(reset_token), deps_.clock.now_ms(), std::move(*hashed));
        if (!user) {
            co_return user.error();
        }
        cache_.revoke_user(user->id);
        close_user(user->id, close_logged_out);
        infra::log::info("logic", "password reset", {{"user_id", user->id}});
        if (user->suspended) {
            co_return make_error(errc::forbidden, "this account is suspended");
        }
        co_return co_await issue_token(*user, cfg->auth.token_ttl_s, std::move(user_agent));
    }

    task<user_info> create_user(std::string username, std::string password,
                                std::optional<std::string> display_name) override {
        if (auto st = validate_username(username); !st) {
            co_return st.error();
        }
        if (auto st = validate_password(password); !st) {
            co_return st.error();
        }
        if (display_name) {
            if (auto st = validate_display_name(*display_name); !st) {
                co_return st.error();
            }
        }
        auto hashed = co_await hash(std::move(password), cost_of(*deps_.config.get()));
        if (!hashed) {
            co_return hashed.error();
        }
        storage::user_record rec;
        rec.id = deps_.ids.next();
        rec.display_name = display_name.value_or(username);
        rec.username = std::move(username);
        rec.password_hash = std::move(*hashed);
        rec.created_ms = deps_.clock.now_ms();
        auto created = co_await deps_.users.create_user(std::move(rec));
        if (!created) {
            if (created.error().code == errc::conflict) {
                co_return username_taken();
            }
            co_return created.error();
        }
        registered_.inc();
        co_return to_info(*created, deps_.presence);
    }

    task<invite_info> create_invite(std::uint64_t created_by, std::int64_t uses,
                                    std::optional<std::int64_t> expires_in_s) override {
        const auto cfg = deps_.config.get();
        if (uses < 1 || uses > cfg->auth.max_invite_uses) {
            co_return make_error(errc::invalid_argument,
                                 "uses must be 1 to auth.max_invite_uses (" +
                                     std::to_string(cfg->auth.max_invite_uses) + ")");
        }
        if (expires_in_s && *expires_in_s < 1) {
            co_return make_error(errc::invalid_argument, "expires_in_s must be positive");
        }
        storage::invite_record rec;
        // 96 random bits are plenty for a code that also expires, and short enough to type.
        rec.code = new_token().substr(0, invite_code_chars);
        rec.uses_left = static_cast<std::uint64_t>(uses);
        rec.created_by = created_by;
        rec.created_ms = deps_.clock.now_ms();
        rec.expires_ms = expires_in_s ? expiry_of(rec.created_ms, *expires_in_s) : 0;
        auto made = co_await deps_.users.create_invite(std::move(rec));
        if (!made) {
            co_return made.error();
        }
        co_return invite_info{made->code, made->uses_left, made->expires_ms};
    }

    task<std::vector<invite_info>> list_invites() override {
        auto all = co_await deps_.users.list_invites();
        if (!all) {
            co_return all.error();
        }
        std::vector<invite_info> out;
        out.reserve(all->size());
        for (auto& i : *all) {
            out.push_back({std::move(i.code), i.uses_left, i.expires_ms});
        }
        co_return out;
    }

    task<void> delete_invite(std::string code) override {
        co_return co_await deps_.users.delete_invite(std::move(code));
    }

    task<password_reset> issue_password_reset(std::uint64_t user_id) override {
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            co_return user.error();
        }
        if (user->bot) {
            co_return make_error(errc::invalid_argument,
                                 "a bot has no password; rotate its token instead");
        }
        password_reset out;
        out.reset_token = new_token();
        out.expires_ms = deps_.clock.now_ms() + reset_ttl_ms;
        if (auto st = co_await deps_.users.create_password_reset(hash_token(out.reset_token),
                                                                 user_id, out.expires_ms);
            !st) {
            co_return st.error();
        }
        infra::log::info("logic", "password reset issued", {{"user_id", user_id}});
        co_return out;
    }

    task<auth_result> create_bot(std::string username,
                                 std::optional<std::string> display_name) override {
        if (auto st = validate_username(username); !st) {
            co_return st.error();
        }
        if (display_name) {
            if (auto st = validate_display_name(*display_name); !st) {
                co_return st.error();
            }
        }
        storage::user_record rec;
        rec.id = deps_.ids.next();
        rec.display_name = display_name.value_or(username);
        rec.username = std::move(username);
        rec.bot = true;
        rec.created_ms = deps_.clock.now_ms();
        std::string token = new_token();
        auto tok = bot_token_record(rec.id, token);
        auto created = co_await deps_.users.create_user_with_token(std::move(rec), std::move(tok));
        if (!created) {
            if (created.error().code == errc::conflict) {
                co_return username_taken();
            }
            co_return created.error();
        }
        infra::log::info("logic", "bot created", {{"user_id", created->id}});
        co_return auth_result{to_info(*created, deps_.presence), std::move(token)};
    }

    task<auth_result> rotate_bot_token(std::uint64_t user_id) override {
        auto bot = co_await bot_user(user_id);
        if (!bot) {
            co_return bot.error();
        }
        std::string token = new_token();
        // Named first: GCC 12 mishandles some temporaries built inside co_await.
        std::optional<storage::token_record> fresh = bot_token_record(user_id, token);
        auto revoked = co_await deps_.users.replace_user_tokens(user_id, std::move(fresh));
        if (!revoked) {
            co_return revoked.error();
        }
        close_tokens(user_id, *revoked);
        infra::log::info("logic", "bot token rotated", {{"user_id", user_id}});
        co_return auth_result{to_info(*bot, deps_.presence), std::move(token)};
    }

    task<void> revoke_bot_tokens(std::uint64_t user_id) override {
        auto bot = co_await bot_user(user_id);
        if (!bot) {
            co_return bot.error();
        }
        auto revoked = co_await deps_.users.replace_user_tokens(user_id, std::nullopt);
        if (!revoked) {
            co_return revoked.error();
        }
        close_tokens(user_id, *revoked);
        infra::log::info("logic", "bot tokens revoked", {{"user_id", user_id}});
        co_return status{};
    }

    task<bool> is_admin(std::uint64_t user_id) override {
        // Only `auth.admins` names admins (issue 17): read from the live snapshot on every
        // call, so that a reload takes effect at once.
        const auto cfg = deps_.config.get();
        if (cfg->auth.admins.empty()) {
            co_return false;
        }
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            if (user.error().code == errc::not_found) {
                co_return false;
            }
            co_return user.error();
        }
        co_return !user->guest && !user->bot && named_admin(cfg->auth.admins, user->username);
    }

    task<std::vector<admin_user_info>> list_users(std::uint64_t after,
                                                  std::size_t limit) override {
        auto users = co_await deps_.admin.list_users(after, limit);
        if (!users) {
            co_return users.error();
        }
        const auto cfg = deps_.config.get();
        std::vector<admin_user_info> out;
        out.reserve(users->size());
        for (const auto& u : *users) {
            admin_user_info a;
            a.user = to_info(u, deps_.presence);
            a.suspended = u.suspended;
            a.admin = !u.guest && !u.bot && named_admin(cfg->auth.admins, u.username);
            a.created_ms = u.created_ms;
            out.push_back(std::move(a));
        }
        co_return out;
    }

    task<void> set_suspended(std::uint64_t user_id, bool suspended) override {
        if (auto st = co_await deps_.admin.set_suspended(user_id, suspended); !st) {
            co_return st.error();
        }
        if (suspended) {
            if (auto st = co_await revoke_all(user_id); !st) {
                co_return st.error();
            }
        }
        infra::log::info("logic", suspended ? "user suspended" : "user unsuspended",
                         {{"user_id", user_id}});
        co_return status{};
    }

    task<void> delete_user(std::uint64_t user_id) override {
        // The store refuses first (unknown user, group owner) before anything is revoked; its
        // tokens go with the row, and then the cache and the sessions follow.
        if (auto st = co_await deps_.users.delete_user(user_id); !st) {
            co_return st.error();
        }
        forget_sessions(user_id);
        infra::log::info("logic", "user deleted", {{"user_id", user_id}});
        co_return status{};
    }

    task<sweep_result> sweep() override {
        const auto cfg = deps_.config.get();
        const auto batch = static_cast<std::size_t>(cfg->auth.sweep_batch);
        const std::int64_t now = deps_.clock.now_ms();
        sweep_result done;
        // Tokens: each batch is one short write, so sends and logins queue behind at most one.
        for (;;) {
            auto n = co_await deps_.users.delete_expired_tokens(now, batch);
            if (!n) {
                co_return n.error();
            }
            done.tokens += *n;
            purged_tokens_.inc(*n);
            if (*n < batch) {
                break;
            }
        }
        // Guests: a listed guest that is online is not idle (its connection is its activity):
        // it is touched so that it is not listed again, and kept.
        // A TTL reaching back past the epoch (the product would overflow too) purges nobody.
        const std::int64_t ttl_s = cfg->auth.guest_ttl_s;
        const std::int64_t seen_before = ttl_s > now / 1000 ? 0 : now - ttl_s * 1000;
        for (;;) {
            auto listed = co_await deps_.users.idle_guests(seen_before, batch);
            if (!listed) {
                co_return listed.error();
            }
            std::vector<std::uint64_t> idle;
            std::size_t online = 0;
            for (const auto id : *listed) {
                if (deps_.presence.is_online(id)) {
                    ++online;
                    if (auto st = co_await deps_.users.touch_user(id, now); !st) {
                        co_return st.error();
                    }
                } else {
                    idle.push_back(id);
                }
            }
            std::size_t purged_now = 0;
            if (!idle.empty()) {
                auto purged = co_await deps_.users.purge_guests(std::move(idle), seen_before, now);
                if (!purged) {
                    co_return purged.error();
                }
                for (const auto id : *purged) {
                    forget_guest(id);
                }
                purged_now = purged->size();
                done.guests += purged_now;
                purged_guests_.inc(purged_now);
            }
            // A short page is the last; a page where nothing moved (guests that cannot be
            // purged) would come back unchanged.
            if (listed->size() < batch || (purged_now == 0 && online == 0)) {
                break;
            }
        }
        if (done.tokens != 0 || done.guests != 0) {
            infra::log::info("logic", "expired accounts purged",
                             {{"tokens", done.tokens}, {"guests", done.guests}});
        }
        co_return done;
    }

private:
    // Records a guest's activity for the idle expiry, at most once per touch interval per
    // guest, so that most requests cost no write. A failed write only delays the record.
    net::awaitable<void> note_guest_activity(std::uint64_t user_id, std::int64_t now) {
        // A quarter of the TTL (ttl_s * 1000 / 4), capped before it can overflow.
        const std::int64_t ttl_s = deps_.config.get()->auth.guest_ttl_s;
        const std::int64_t interval = ttl_s >= max_touch_interval_ms / 250
                                          ? max_touch_interval_ms
                                          : std::max<std::int64_t>(ttl_s * 250, 1);
        {
            std::lock_guard lock(seen_mutex_);
            if (seen_.size() >= max_remembered_guests) {
                seen_.clear();
            }
            auto [it, inserted] = seen_.try_emplace(user_id, now);
            if (!inserted) {
                if (now - it->second < interval) {
                    co_return;
                }
                it->second = now;
            }
        }
        if (auto st = co_await deps_.users.touch_user(user_id, now); !st) {
            infra::log::warn("logic", "guest activity not recorded",
                             {{"user_id", user_id}, {"error", st.error().message}});
        }
    }

    // A purged guest: its tokens went with its row; the cache forgets them and any session
    // that raced the sweep is closed as after a logout.
    void forget_guest(std::uint64_t user_id) {
        {
            std::lock_guard lock(seen_mutex_);
            seen_.erase(user_id);
        }
        cache_.revoke_user(user_id);
        delivery d;
        d.kind = delivery_kind::close_user;
        d.close_code = close_logged_out;
        d.user_ids = {user_id};
        events_.publish(std::to_string(user_id), d);
    }


    // Every token of the user stops working now: the store forgets them, the cache too, and
    // the user's sessions are closed (4003) wherever they are.
    net::awaitable<status> revoke_all(std::uint64_t user_id) {
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            co_return user.error();
        }
        auto dropped = co_await deps_.users.delete_user_tokens(user_id);
        if (!dropped) {
            co_return dropped.error();
        }
        forget_sessions(user_id);
        co_return status{};
    }

    // The user's password, checked as a login checks it: failures count against the user
    // (auth.login_max_failures within the window, then rate_limited for the lockout), so that
    // a stolen token cannot be used to guess the password behind it.
    net::awaitable<status> check_password(std::uint64_t user_id, std::string password) {
        const auto cfg = deps_.config.get();
        const login_guard_settings gs{cfg->auth.login_max_failures,
                                      cfg->auth.login_failure_window_s,
                                      cfg->auth.login_lockout_s};
        const std::string key = "password:" + std::to_string(user_id);
        const auto verdict = guard_.check(key, gs);
        if (verdict.locked) {
            error e = make_error(errc::rate_limited, "too many wrong passwords; retry later");
            e.retry_after_s = verdict.retry_after_s;
            co_return e;
        }
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            if (user.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the user no longer exists");
            }
            co_return user.error();
        }
        auto ok = co_await verify(user->password_hash, std::move(password), cost_of(*cfg));
        if (!ok) {
            co_return ok.error();
        }
        if (!*ok) {
            guard_.record_failure(key, gs);
            co_return wrong_password();
        }
        guard_.record_success(key);
        co_return status{};
    }

    // The bot `user_id`; not_found for anyone else.
    task<storage::user_record> bot_user(std::uint64_t user_id) {
        auto user = co_await deps_.users.get_user(user_id);
        if (!user) {
            co_return user.error();
        }
        if (!user->bot) {
            co_return make_error(errc::not_found, "no bot with that id");
        }
        co_return std::move(*user);
    }

    // A bot's token never expires (a bot is a program: it is rotated or revoked by an admin).
    storage::token_record bot_token_record(std::uint64_t user_id, const std::string& token) {
        storage::token_record rec;
        rec.token_hash = hash_token(token);
        rec.user_id = user_id;
        rec.created_ms = deps_.clock.now_ms();
        rec.expires_ms = std::numeric_limits<std::int64_t>::max();
        rec.session_id = deps_.ids.next();
        rec.last_used_ms = rec.created_ms;
        rec.user_agent = "bot token";
        return rec;
    }

    // Tokens the store deleted: the cache forgets them and their connections close with 4001.
    void close_tokens(std::uint64_t user_id, const std::vector<std::string>& hashes) {
        for (const auto& h : hashes) {
            cache_.revoke(h);
            delivery d;
            d.kind = delivery_kind::close_token;
            d.close_code = close_logged_out;
            d.frame = h;
            events_.publish(std::to_string(user_id), d);
        }
    }

    // Every connection of the user closes with `code`.
    void close_user(std::uint64_t user_id, std::uint16_t code) {
        delivery d;
        d.kind = delivery_kind::close_user;
        d.close_code = code;
        d.user_ids = {user_id};
        events_.publish(std::to_string(user_id), d);
    }

    // Records a token's use for the session list, at most once a minute per token (as guest
    // activity is recorded): one short write per token per minute, not one per request.
    net::awaitable<void> note_token_use(const std::string& token_hash, std::int64_t now) {
        {
            std::lock_guard lock(seen_mutex_);
            if (token_seen_.size() >= max_remembered_tokens) {
                token_seen_.clear();
            }
            auto [it, inserted] = token_seen_.try_emplace(token_hash, now);
            if (!inserted) {
                if (now - it->second < token_touch_interval_ms) {
                    co_return;
                }
                it->second = now;
            }
        }
        if (auto st = co_await deps_.users.touch_token(token_hash, now); !st) {
            infra::log::warn("logic", "session use not recorded", {{"error", st.error().message}});
        }
    }

    void forget_sessions(std::uint64_t user_id) {
        cache_.revoke_user(user_id);
        delivery d;
        d.kind = delivery_kind::close_user;
        d.close_code = close_suspended;
        d.user_ids = {user_id};
        events_.publish(std::to_string(user_id), d);
    }

    infra::counter& purged(std::string_view kind) {
        return deps_.metrics.get_counter("monochat_expired_purged_total",
                                         "Expired tokens and idle guests purged by the sweep.",
                                         {{"kind", std::string(kind)}});
    }

    infra::counter& counter(std::string_view op, std::string_view outcome) {
        return deps_.metrics.get_counter("monochat_auth_total",
                                         "Registrations, guest creations and logins by outcome.",
                                         {{"op", std::string(op)}, {"result", std::string(outcome)}});
    }

    status check_auth_rate(const infra::config& cfg, const std::string& client_address) {
        const auto rate = static_cast<double>(cfg.limits.auth_rate);
        auto st = rate_.acquire("addr:" + client_address, rate, rate / 60.0);
        if (!st) {
            rate_limited_.inc();
        }
        return st;
    }

    net::awaitable<result<auth_result>> issue_token(const storage::user_record& user,
                                                    std::int64_t ttl_s, std::string user_agent) {
        std::string token = new_token();
        storage::token_record rec;
        rec.token_hash = hash_token(token);
        rec.user_id = user.id;
        rec.created_ms = deps_.clock.now_ms();
        rec.expires_ms = expiry_of(rec.created_ms, ttl_s);
        rec.session_id = deps_.ids.next();
        rec.last_used_ms = rec.created_ms;
        rec.user_agent = session_label(std::move(user_agent));
        auto st = co_await deps_.users.create_token(std::move(rec));
        if (!st) {
            co_return st.error();
        }
        co_return auth_result{to_info(user, deps_.presence), std::move(token)};
    }

    // Hashing and verifying run on pool_, bounded by max_pending_hashes so that a flood gets
    // a quick `unavailable` instead of a queue of minutes.
    bool enter_pool() {
        if (pending_.fetch_add(1) >= options_.max_pending_hashes) {
            pending_.fetch_sub(1);
            return false;
        }
        return true;
    }
    static error pool_full() {
        return make_error(errc::unavailable, "too many logins in progress; retry shortly");
    }

    net::awaitable<result<std::string>> hash(std::string password, argon2_cost cost) {
        if (!enter_pool()) {
            co_return pool_full();
        }
        // A named job: GCC 12 mishandles a lambda with init-captures built inside co_await.
        auto job = [this, password = std::move(password), cost]() noexcept -> result<std::string> {
            const auto started = std::chrono::steady_clock::now();
            auto h = hash_password(password, cost);
            observe(started);
            return h;
        };
        auto r = co_await infra::run_blocking(pool_.get_executor(), std::move(job));
        pending_.fetch_sub(1);
        co_return r;
    }

    // `encoded` empty: verify against the dummy hash and answer false.
    net::awaitable<result<bool>> verify(std::string encoded, std::string password,
                                        argon2_cost cost) {
        if (!enter_pool()) {
            co_return pool_full();
        }
        auto job = [this, encoded = std::move(encoded), password = std::move(password),
                    cost]() noexcept -> bool {
            const auto started = std::chrono::steady_clock::now();
            bool match = false;
            if (encoded.empty()) {
                (void)verify_password(dummy_for(cost), password);
            } else {
                match = verify_password(encoded, password);
            }
            observe(started);
            return match;
        };
        const bool ok = co_await infra::run_blocking(pool_.get_executor(), std::move(job));
        pending_.fetch_sub(1);
        co_return ok;
    }

    void observe(std::chrono::steady_clock::time_point started) {
        hash_seconds_.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }

    // On a pool thread. A reload that changes the cost gets a new dummy, so that unknown names
    // keep costing what known ones cost with the hashes written now.
    std::string dummy_for(argon2_cost cost) {
        {
            std::lock_guard lock(dummy_mutex_);
            if (!dummy_.empty() && dummy_cost_ == cost) {
                return dummy_;
            }
        }
        auto h = hash_password(new_token(), cost);
        if (!h) {
            return {};
        }
        std::lock_guard lock(dummy_mutex_);
        dummy_ = *h;
        dummy_cost_ = cost;
        return dummy_;
    }

    const dependencies deps_;
    const accounts_options options_;
    net::thread_pool pool_;
    std::atomic<std::size_t> pending_{0};
    keyed_rate_limiter rate_;
    login_guard guard_;
    token_cache cache_;
    event_publisher events_;
    std::mutex dummy_mutex_;
    std::string dummy_;
    argon2_cost dummy_cost_;
    infra::histogram& hash_seconds_;
    infra::counter& registered_;
    infra::counter& guests_;
    infra::counter& logins_ok_;
    infra::counter& logins_failed_;
    infra::counter& logins_locked_;
    infra::counter& rate_limited_;
    infra::counter& cache_hits_;
    infra::counter& cache_misses_;
    infra::counter& purged_tokens_;
    infra::counter& purged_guests_;
    std::mutex seen_mutex_;
    // Guest id -> when its activity was last written (note_guest_activity).
    std::unordered_map<std::uint64_t, std::int64_t> seen_;
    // Token hash -> when its last use was written (note_token_use).
    std::unordered_map<std::string, std::int64_t> token_seen_;
};

}  // namespace

result<std::string> hash_new_password(const infra::config& cfg, std::string_view password) {
    if (auto st = validate_password(password); !st) {
        return st.error();
    }
    return hash_password(password, cost_of(cfg));
}

std::unique_ptr<accounts> make_accounts(const dependencies& deps, accounts_options options) {
    return std::make_unique<accounts_impl>(deps, options);
}

}  // namespace monochat::logic
