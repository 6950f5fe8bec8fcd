#include <monochat/logic/push.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/logic/webhooks.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/user_store.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "logic/web_push_crypto.hpp"

namespace monochat::logic {

namespace {

namespace net = boost::asio;
using strand = net::strand<net::io_context::executor_type>;
using json = nlohmann::json;

constexpr std::size_t max_endpoint_bytes = 2048;
// Characters of a message's text in the payload: enough for a notification's body line.
constexpr std::size_t preview_chars = 100;
// A push service's answer is a few headers; its body is never used.
constexpr std::size_t max_response_bytes = 4096;
// A VAPID JWT is valid for 12 hours (RFC 8292 allows up to 24) and is made again once less
// than an hour of it is left, so that one signature serves many pushes.
constexpr std::int64_t jwt_lifetime_s = 12 * 3600;
constexpr std::int64_t jwt_renew_s = 3600;
// Push services are a handful of origins; more than this many means made-up endpoints.
constexpr std::size_t max_cached_jwts = 256;

// The first `n` code points of UTF-8 text (the log holds valid UTF-8: logic checked it).
std::string first_chars(const std::string& text, std::size_t n) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
            if (chars == n) {
                return text.substr(0, i) + "\u2026";
            }
            ++chars;
        }
    }
    return text;
}

// The push service's origin, the JWT's audience: scheme://host[:port].
std::string origin_of(const webhook_url& u) {
    const bool default_port =
        (u.scheme == "https" && u.port == "443") || (u.scheme == "http" && u.port == "80");
    const bool v6 = u.host.find(':') != std::string::npos;
    std::string out = u.scheme + "://" + (v6 ? "[" + u.host + "]" : u.host);
    if (!default_port) {
        out += ":" + u.port;
    }
    return out;
}

// Reads the VAPID key, or makes one and writes it (0600, created exclusively, then renamed so
// that a crash never leaves half a key).
result<push_crypto::p256_key> load_or_make_key(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(path, ec)) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        if (!in) {
            return make_error(errc::unavailable, "cannot read the VAPID key " + path);
        }
        auto key = push_crypto::p256_key::from_pem(text.str());
        if (!key) {
            return make_error(errc::invalid_argument,
                              "the VAPID key " + path + ": " + key.error().message);
        }
        return key;
    }
    auto key = push_crypto::p256_key::generate();
    if (!key) {
        return key.error();
    }
    auto pem = key->private_pem();
    if (!pem) {
        return pem.error();
    }
    const std::string partial = path + ".partial";
    fs::remove(partial, ec);
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return make_error(errc::unavailable,
                          "cannot write the VAPID key " + partial + ": " + std::strerror(errno));
    }
    std::size_t done = 0;
    while (done < pem->size()) {
        const auto n = ::write(fd, pem->data() + done, pem->size() - done);
        if (n <= 0) {
            ::close(fd);
            return make_error(errc::unavailable, "cannot write the VAPID key " + partial);
        }
        done += static_cast<std::size_t>(n);
    }
    const bool synced = ::fsync(fd) == 0;
    ::close(fd);
    fs::rename(partial, path, ec);
    if (!synced || ec) {
        return make_error(errc::unavailable, "cannot write the VAPID key " + path);
    }
    infra::log::info("logic", "made a VAPID key for Web Push", {{"path", path}});
    return key;
}

// A committed message that may need pushes.
struct candidate {
    std::shared_ptr<const std::vector<storage::stored_message>> batch;
    std::size_t index = 0;
};

// One push to one subscription.
struct item {
    storage::push_subscription_record to;
    std::string payload;  // the plaintext JSON
};

// One endpoint's queue and its sender. `items` and `running` are guarded by the service's
// mutex; the timer is touched only on the strand.
struct endpoint_state {
    endpoint_state(std::string e, strand s) : endpoint(std::move(e)), exec(s), retry(s) {}
    const std::string endpoint;
    strand exec;
    net::steady_timer retry;
    std::deque<item> items;
    bool running = false;
};

class push_service;

// The log outlives nothing it calls back into: the listener reaches the service through this
// relay, which stop() disconnects (the log has no way to remove a listener).
struct relay {
    std::mutex mutex;
    push_service* target = nullptr;
};

class push_service final : public web_push {
public:
    push_service(web_push_dependencies d, push_crypto::p256_key key)
        : d_(std::move(d)),
          key_(std::move(key)),
          public_b64_(push_crypto::base64url_encode(key_.public_key())),
          relay_(std::make_shared<relay>()),
          dispatch_(net::make_strand(d_.io)),
          wake_(dispatch_),
          sent_(counter("sent")),
          failed_(counter("failed")),
          dropped_(counter("dropped")),
          removed_(counter("removed")) {}

    ~push_service() override { stop(); }

    std::string vapid_public_key() const override { return public_b64_; }

    task<std::int64_t> subscribe(identity who, push_subscription s) override {
        const auto cfg = d_.config.get();
        if (s.endpoint.size() > max_endpoint_bytes) {
            co_return make_error(errc::invalid_argument, "endpoint must be at most 2048 bytes");
        }
        auto url = parse_webhook_url(s.endpoint);
        if (!url) {
            co_return make_error(errc::invalid_argument, "endpoint: " + url.error().message);
        }
        auto p256dh = push_crypto::base64url_decode(s.p256dh);
        if (!p256dh || !push_crypto::valid_p256_public_key(*p256dh)) {
            co_return make_error(errc::invalid_argument,
                                 "keys.p256dh must be the base64url of an uncompressed P-256 "
                                 "public key (65 bytes)");
        }
        auto auth = push_crypto::base64url_decode(s.auth);
        if (!auth || auth->size() != 16) {
            co_return make_error(errc::invalid_argument,
                                 "keys.auth must be the base64url of 16 bytes");
        }
        if (auto addrs = co_await check_host(*url, cfg->push.allow_private); !addrs) {
            // At subscription a refused address is a bad argument, as for webhooks.
            co_return make_error(errc::invalid_argument, "endpoint: " + addrs.error().message);
        }
        storage::push_subscription_record rec;
        rec.endpoint = std::move(s.endpoint);
        rec.p256dh = std::move(*p256dh);
        rec.auth = std::move(*auth);
        rec.user_id = who.user_id;
        rec.token_hash = who.token_hash;
        rec.created_ms = d_.clock.now_ms();
        const auto created = rec.created_ms;
        auto put = co_await d_.read_state.put_push_subscription(
            std::move(rec), static_cast<std::size_t>(cfg->push.max_subscriptions_per_user));
        if (!put) {
            if (put.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the session has ended");
            }
            co_return put.error();
        }
        co_return created;
    }

    task<void> unsubscribe(identity who, std::string endpoint) override {
        co_return co_await d_.read_state.delete_push_subscription(who.user_id, std::move(endpoint));
    }

    status start() override {
        {
            std::lock_guard lock(relay_->mutex);
            relay_->target = this;
        }
        d_.log.add_commit_listener([r = relay_](const storage::commit_event& e) {
            std::lock_guard lock(r->mutex);
            if (r->target != nullptr) {
                r->target->on_commit(e);
            }
        });
        net::co_spawn(dispatch_, dispatch(), [](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    infra::log::error("logic", "push dispatcher failed", {{"error", ex.what()}});
                }
            }
        });
        return {};
    }

    void stop() override {
        {
            std::lock_guard lock(relay_->mutex);
            relay_->target = nullptr;
        }
        std::vector<std::shared_ptr<endpoint_state>> all;
        {
            std::lock_guard lock(mutex_);
            if (stopped_) {
                return;
            }
            stopped_ = true;
            for (auto& [endpoint, state] : endpoints_) {
                all.push_back(state);
            }
        }
        net::post(dispatch_, [this] { wake_.cancel(); });
        for (auto& s : all) {
            net::post(s->exec, [s] { s->retry.cancel(); });
        }
    }

    // On the log's writer thread, once per group commit: a substring test per message and,
    // for the few that may need a push, a queue append under one lock.
    void on_commit(const storage::commit_event& e) {
        const auto max = static_cast<std::size_t>(d_.config.get()->push.max_pending);
        // Only a direct message to someone offline, or a mention, can make a push. Most direct
        // messages reach a live connection: they are sorted out here, on the commit, with a
        // presence lookup, not queued to be parsed by the dispatcher.
        thread_local std::vector<std::size_t> candidates;
        candidates.clear();
        for (std::size_t i = 0; i < e.messages->size(); ++i) {
            const auto& m = (*e.messages)[i];
            if (m.body.find("\"mentions\"") != std::string::npos) {
                candidates.push_back(i);
            } else if (auto conv = parse_conversation_id(m.conversation_id);
                       conv && conv->kind == conversation_kind::direct &&
                       !d_.presence.is_online(m.sender_id == conv->low ? conv->high : conv->low)) {
                candidates.push_back(i);
            }
        }
        if (candidates.empty()) {
            return;
        }
        bool wake = false;
        std::uint64_t over = 0;
        {
            std::lock_guard lock(mutex_);
            for (const auto i : candidates) {
                if (pending_.size() >= max) {
                    ++over;
                    continue;
                }
                pending_.push_back({e.messages, i});
                wake = true;
            }
            wake = wake && dispatcher_idle_;
            if (wake) {
                dispatcher_idle_ = false;
            }
        }
        if (over != 0) {
            dropped_.inc(over);
        }
        if (wake) {
            net::post(dispatch_, [this] { wake_.cancel(); });
        }
    }

private:
    infra::counter& counter(std::string_view result) {
        return d_.metrics.get_counter("monochat_push_total",
                                      "Web Push requests by result: sent, failed (an attempt), "
                                      "dropped (a push given up), removed (a subscription the "
                                      "push service no longer knows).",
                                      {{"result", std::string(result)}});
    }

    // The dispatcher, on its strand: takes the pending messages and turns them into pushes.
    net::awaitable<void> dispatch() {
        for (;;) {
            std::deque<candidate> work;
            {
                std::lock_guard lock(mutex_);
                if (stopped_) {
                    co_return;
                }
                work.swap(pending_);
                dispatcher_idle_ = work.empty();
            }
            if (work.empty()) {
                wake_.expires_at(std::chrono::steady_clock::time_point::max());
                co_await wake_.async_wait(net::as_tuple(net::use_awaitable));
                continue;
            }
            for (const auto& c : work) {
                co_await consider((*c.batch)[c.index]);
            }
        }
    }

    // Who gets a push for message `m`, and with what.
    net::awaitable<void> consider(const storage::stored_message& m) {
        json body = json::parse(m.body, nullptr, false);
        if (!body.is_object()) {
            co_return;
        }
        const std::string type = body.value("type", "");
        if (type != "text" && type != "file") {
            co_return;  // edits, recalls and reactions are not news
        }
        auto conv = parse_conversation_id(m.conversation_id);
        if (!conv) {
            co_return;
        }
        std::set<std::uint64_t> direct;
        std::set<std::uint64_t> mentioned;
        if (conv->kind == conversation_kind::direct) {
            direct.insert(m.sender_id == conv->low ? conv->high : conv->low);
        }
        if (type == "text" && body.contains("mentions") && body["mentions"].is_array()) {
            for (const auto& id : body["mentions"]) {
                if (!id.is_string()) {
                    continue;
                }
                auto uid = parse_id(id.get<std::string>(), "mention");
                if (uid && *uid != m.sender_id && direct.count(*uid) == 0) {
                    mentioned.insert(*uid);
                }
            }
        }
        std::vector<std::pair<std::uint64_t, bool>> to;  // user, mentioned
        for (auto u : direct) {
            to.emplace_back(u, false);
        }
        for (auto u : mentioned) {
            // Only someone who may read the conversation: a direct chat's peer (above), any
            // user in world, a member of a group.
            if (conv->kind == conversation_kind::direct) {
                continue;
            }
            if (conv->kind == conversation_kind::group) {
                auto role = co_await d_.groups.member_role_of(conv->group_id, u);
                if (!role || !role->has_value()) {
                    continue;
                }
            }
            to.emplace_back(u, true);
        }
        std::optional<std::string> payload_base;
        for (const auto& [user, mention] : to) {
            if (d_.presence.is_online(user)) {
                continue;  // the live connection has the message already
            }
            auto targets =
                co_await d_.read_state.push_targets(user, m.conversation_id, d_.clock.now_ms());
            if (!targets || targets->empty()) {
                continue;
            }
            if (!payload_base) {
                payload_base = co_await payload_of(m, body);
            }
            std::string payload = *payload_base;
            // The one field that differs per recipient, appended to the shared text.
            payload.pop_back();
            payload += mention ? R"(,"mention":true})" : R"(,"mention":false})";
            for (auto& t : *targets) {
                enqueue(item{std::move(t), payload});
            }
        }
    }

    net::awaitable<std::string> payload_of(const storage::stored_message& m, const json& body) {
        std::string sender_name;
        if (auto u = co_await d_.users.get_user(m.sender_id)) {
            sender_name = u->display_name;
        }
        json p = {{"type", "message"},
                  {"conversation_id", m.conversation_id},
                  {"seq", m.seq},
                  {"message_id", std::to_string(m.message_id)},
                  {"sender_id", std::to_string(m.sender_id)},
                  {"sender_name", sender_name},
                  {"ts", m.ts_ms}};
        if (d_.config.get()->push.preview) {
            std::string text;
            if (body.contains("text") && body["text"].is_string()) {
                text = body["text"].get<std::string>();
            } else if (body.contains("caption") && body["caption"].is_string()) {
                text = body["caption"].get<std::string>();
            }
            p["preview"] = first_chars(text, preview_chars);
        }
        co_return p.dump(-1, ' ', false, json::error_handler_t::replace);
    }

    void enqueue(item it) {
        const auto cap = static_cast<std::size_t>(d_.config.get()->push.queue_per_endpoint);
        std::shared_ptr<endpoint_state> start;
        {
            std::lock_guard lock(mutex_);
            if (stopped_) {
                return;
            }
            auto& s = endpoints_[it.to.endpoint];
            if (!s) {
                s = std::make_shared<endpoint_state>(it.to.endpoint, net::make_strand(d_.io));
            }
            if (s->items.size() >= cap) {
                dropped_.inc();
                return;
            }
            s->items.push_back(std::move(it));
            if (!s->running) {
                s->running = true;
                start = s;
            }
        }
        if (start) {
            net::co_spawn(start->exec, send_all(start), [](std::exception_ptr e) {
                if (e) {
                    try {
                        std::rethrow_exception(e);
                    } catch (const std::exception& ex) {
                        infra::log::error("logic", "push sender failed", {{"error", ex.what()}});
                    }
                }
            });
        }
    }

    enum class outcome { sent, gone, give_up, retry };

    // One endpoint's sender, on its strand: its queue in order, one request in flight.
    net::awaitable<void> send_all(std::shared_ptr<endpoint_state> s) {
        std::optional<std::chrono::steady_clock::time_point> failing_since;
        std::chrono::milliseconds backoff{0};
        for (;;) {
            item it;
            {
                std::lock_guard lock(mutex_);
                if (stopped_) {
                    s->running = false;
                    co_return;
                }
                it = s->items.front();
            }
            const auto cfg = d_.config.get();
            std::string why;
            const auto o = co_await attempt(it, *cfg, why);
            if (o == outcome::retry) {
                failed_.inc();
                const auto now = std::chrono::steady_clock::now();
                if (!failing_since) {
                    failing_since = now;
                    backoff = std::chrono::milliseconds(cfg->push.retry_initial_ms);
                } else {
                    backoff = std::min(backoff * 2, std::chrono::milliseconds(cfg->push.retry_max_ms));
                }
                if (now - *failing_since < std::chrono::seconds(cfg->push.max_retry_s)) {
                    infra::log::debug("logic", "push failed; retrying",
                                      {{"error", why}, {"retry_ms", backoff.count()}});
                    s->retry.expires_after(backoff);
                    co_await s->retry.async_wait(net::as_tuple(net::use_awaitable));
                    continue;
                }
                infra::log::warn("logic", "push dropped after retries", {{"error", why}});
                dropped_.inc();
            }
            failing_since.reset();
            std::lock_guard lock(mutex_);
            if (o == outcome::gone) {
                // The subscription is gone: nothing queued for it can be delivered.
                dropped_.inc(s->items.size() > 0 ? s->items.size() - 1 : 0);
                s->items.clear();
            } else if (!s->items.empty()) {
                s->items.pop_front();
            }
            if (s->items.empty()) {
                // Under the same lock as enqueue's check of `running`: a push arriving after
                // this finds no entry and starts a new sender.
                s->running = false;
                if (!stopped_) {
                    endpoints_.erase(s->endpoint);
                }
                co_return;
            }
        }
    }

    // One request. `why` says what went wrong for a retry or a give-up.
    net::awaitable<outcome> attempt(const item& it, const infra::config& cfg, std::string& why) {
        auto url = parse_webhook_url(it.to.endpoint);
        if (!url) {
            why = url.error().message;
            failed_.inc();
            co_return outcome::give_up;  // cannot happen: checked at subscription
        }
        auto addrs = co_await check_host(*url, cfg.push.allow_private);
        if (!addrs) {
            why = addrs.error().message;
            if (addrs.error().code == errc::forbidden) {
                failed_.inc();
                co_return outcome::give_up;  // a refused address does not become allowed
            }
            co_return outcome::retry;
        }
        auto jwt = vapid_jwt(*url, cfg);
        if (!jwt) {
            why = jwt.error().message;
            failed_.inc();
            co_return outcome::give_up;
        }
        auto body = push_crypto::encrypt(it.payload, it.to.p256dh, it.to.auth);
        if (!body) {
            why = body.error().message;
            failed_.inc();
            co_return outcome::give_up;
        }
        webhook_transport::request r;
        r.url = *url;
        r.addresses = std::move(*addrs);
        r.headers = {{"Content-Type", "application/octet-stream"},
                     {"Content-Encoding", "aes128gcm"},
                     {"TTL", std::to_string(cfg.push.ttl_s)},
                     {"Urgency", "high"},
                     {"User-Agent", "monochat-push"},
                     {"Authorization", "vapid t=" + *jwt + ", k=" + public_b64_}};
        r.body = std::move(*body);
        r.timeout = std::chrono::milliseconds(cfg.push.timeout_ms);
        r.max_response_bytes = max_response_bytes;
        auto code = co_await d_.transport.post(std::move(r));
        if (!code) {
            why = code.error().message;
            co_return outcome::retry;
        }
        if (*code >= 200 && *code <= 299) {
            sent_.inc();
            co_return outcome::sent;
        }
        if (*code == 404 || *code == 410) {
            // RFC 8030 section 7.3: the subscription has expired or was withdrawn.
            auto removed = co_await d_.read_state.remove_push_endpoint(it.to.endpoint);
            if (removed && *removed) {
                removed_.inc();
            }
            co_return outcome::gone;
        }
        why = "the push service answered HTTP " + std::to_string(*code);
        if (*code == 429 || *code >= 500) {
            co_return outcome::retry;
        }
        // 400, 401, 403, 413: this request will not do better the next time.
        infra::log::warn("logic", "push refused", {{"error", why}});
        failed_.inc();
        co_return outcome::give_up;
    }

    result<std::string> vapid_jwt(const webhook_url& url, const infra::config& cfg) {
        const auto aud = origin_of(url);
        const std::int64_t now_s = d_.clock.now_ms() / 1000;
        {
            std::lock_guard lock(mutex_);
            auto it = jwts_.find(aud);
            if (it != jwts_.end() && it->second.subject == cfg.push.subject &&
                it->second.expires_s - now_s > jwt_renew_s) {
                return it->second.token;
            }
        }
        const json claims = {{"aud", aud}, {"exp", now_s + jwt_lifetime_s}, {"sub", cfg.push.subject}};
        auto token = key_.sign_jwt(claims.dump());
        if (!token) {
            return token.error();
        }
        std::lock_guard lock(mutex_);
        if (jwts_.size() >= max_cached_jwts) {
            jwts_.clear();  // endpoints are users' input: the cache must not grow with them
        }
        jwts_[aud] = {*token, cfg.push.subject, now_s + jwt_lifetime_s};
        return *token;
    }

    // Resolves the endpoint's host and checks every address (logic/webhooks.hpp's rules).
    // Errors: forbidden (an address refused), unavailable (the name does not resolve).
    net::awaitable<result<std::vector<std::string>>> check_host(const webhook_url& url,
                                                               bool allow_private) {
        auto addrs = co_await d_.transport.resolve(url.host, url.port);
        if (!addrs || addrs->empty()) {
            co_return make_error(errc::unavailable, "cannot resolve " + url.host);
        }
        for (const auto& a : *addrs) {
            if (auto st = check_webhook_address(url.scheme, a, allow_private); !st) {
                co_return make_error(errc::forbidden,
                                     st.error().message + " (push.allow_private decides)");
            }
        }
        co_return std::move(*addrs);
    }

    struct cached_jwt {
        std::string token;
        std::string subject;
        std::int64_t expires_s = 0;
    };

    web_push_dependencies d_;
    const push_crypto::p256_key key_;
    const std::string public_b64_;
    std::shared_ptr<relay> relay_;
    strand dispatch_;
    net::steady_timer wake_;  // the idle dispatcher waits on it; cancel() wakes it
    infra::counter& sent_;
    infra::counter& failed_;
    infra::counter& dropped_;
    infra::counter& removed_;

    std::mutex mutex_;
    std::deque<candidate> pending_;
    bool dispatcher_idle_ = false;
    std::map<std::string, std::shared_ptr<endpoint_state>> endpoints_;
    std::map<std::string, cached_jwt> jwts_;
    bool stopped_ = false;
};

}  // namespace

result<std::unique_ptr<web_push>> make_web_push(web_push_dependencies deps) {
    auto key = load_or_make_key(deps.vapid_key_path);
    if (!key) {
        return key.error();
    }
    return std::unique_ptr<web_push>(new push_service(std::move(deps), std::move(*key)));
}

}  // namespace monochat::logic
