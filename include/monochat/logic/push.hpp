#pragma once
// Web Push (issue 21; docs/integrations.md "Web Push", docs/protocol.md "Web Push"): a browser
// that opted in is told of a direct message or a mention while its user has no live
// connection, through the browser vendor's push service (RFC 8030), signed with the server's
// VAPID key (RFC 8292) and encrypted for the browser alone (RFC 8291, aes128gcm).
//
// Subscriptions live in the social store and belong to the session (token) that registered
// them: they go with it (storage/read_state_store.hpp, put_push_subscription).
//
// Off the send path: the log's commit listener only picks the messages that may need a push (a
// direct chat's, or one whose body names `mentions`) into a bounded queue and wakes the
// dispatcher, a coroutine on its own strand of the I/O context. The dispatcher decides who gets
// a push (the peer of a direct chat, or a user mentioned who may read the conversation; not the
// sender, nobody online, nobody who muted the conversation), builds the payload and hands one
// item per subscription to that endpoint's queue (push.queue_per_endpoint; a full queue drops
// the new push). Each endpoint with work has one sender coroutine on its own strand: one
// request in flight per endpoint, failures (a network error, 429, 5xx) retried with backoff
// (push.retry_initial_ms doubling up to push.retry_max_ms) until push.max_retry_s, a 404 or 410
// deletes the subscription. Endpoint addresses follow the webhooks' rules
// (logic/webhooks.hpp: https, or http to loopback; private ranges only with push.allow_private),
// checked at subscription and again before every request.
//
// Thread-safety: every member may be called from any thread; awaitables resume on the caller's
// executor.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/logic/access.hpp>
#include <string>

namespace boost::asio {
class io_context;
}
namespace monochat::infra {
class clock;
class live_config;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class message_log;
class group_store;
class read_state_store;
class user_store;
}  // namespace monochat::storage

namespace monochat::logic {

class presence_view;
class webhook_transport;

// The browser's PushSubscription (its toJSON()): the endpoint and the keys, base64url.
struct push_subscription {
    std::string endpoint;
    std::string p256dh;  // base64url of the 65-byte P-256 public key
    std::string auth;    // base64url of the 16-byte secret
};

class web_push {
public:
    web_push() = default;
    virtual ~web_push() = default;
    web_push(const web_push&) = delete;
    web_push& operator=(const web_push&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // The VAPID public key (65 bytes, uncompressed P-256), base64url: the browser's
    // applicationServerKey.
    [[nodiscard]] virtual std::string vapid_public_key() const = 0;

    // Stores the caller's session's subscription (a known endpoint moves to this session).
    // Answers its creation time (ms). Errors: invalid_argument (the endpoint's URL or address,
    // a key of the wrong size or not on P-256), conflict (push.max_subscriptions_per_user),
    // unauthenticated (the session ended meanwhile).
    virtual task<std::int64_t> subscribe(identity who, push_subscription s) = 0;
    // Deletes one of the caller's subscriptions. Errors: not_found.
    virtual task<void> unsubscribe(identity who, std::string endpoint) = 0;

    // Listens to the log's commits and starts the dispatcher. Call once, before the log's
    // first append.
    [[nodiscard]] virtual status start() = 0;
    // Stops listening; the dispatcher and the senders end (a request in flight is abandoned
    // with the I/O context). Idempotent.
    virtual void stop() = 0;
};

struct web_push_dependencies {
    storage::user_store& users;
    storage::group_store& groups;
    storage::read_state_store& read_state;  // the push subscriptions and targets
    storage::message_log& log;
    webhook_transport& transport;  // the outbound HTTP client, shared with webhooks
    const presence_view& presence;  // who has a live connection
    const infra::live_config& config;
    const infra::clock& clock;
    infra::metrics_registry& metrics;
    boost::asio::io_context& io;  // where the dispatcher and the senders run
    // The VAPID key's file (PEM, mode 0600): read when it exists, made and written otherwise.
    std::string vapid_key_path;
};

// Errors: the VAPID key file cannot be read, parsed or written (unavailable, invalid_argument).
// Metrics: monochat_push_total{result="sent"|"failed"|"dropped"|"removed"}.
[[nodiscard]] result<std::unique_ptr<web_push>> make_web_push(web_push_dependencies deps);

}  // namespace monochat::logic
