#pragma once
// Outgoing webhooks (issue 21; docs/integrations.md, docs/protocol.md "Outgoing webhooks"):
// admins register a URL, the server POSTs every message of the conversations it follows, and
// the membership events of its groups, as JSON signed with HMAC-SHA256, at least once and in
// order per conversation.
//
// Durability without a second copy: the only state is a cursor per webhook and conversation
// (storage/webhook_store.hpp), the seq of the last message the webhook is done with. Pending
// deliveries are the messages past a cursor, read from the message log by seq (read_after, as
// sync reads it). A restart loads the cursors and compares them with the log's last_seq; a
// message whose delivery succeeded but whose cursor write did not reach the disk is delivered
// again (at least once; `X-Monochat-Delivery` names each delivery so receivers can drop
// repeats).
//
// Membership events (member_joined, member_left, group_updated) are rows of the social store's
// group event journal, written in the change's own transaction; each webhook has one more
// cursor, a journal id, and reads the rows past it in pages. A row records the group
// conversation's last_seq at the change (after_seq): the worker delivers the event after that
// conversation's messages up to after_seq and before its later ones, and takes events in
// journal order (so a webhook's events wait for the messages before them). The journal is
// pruned up to the lowest journal cursor of the webhooks that want events (all of it when none
// does).
//
// Off the send path: the log's commit listener only marks (webhook, conversation) pairs as
// behind, under one mutex, and wakes the webhook's worker; the worker, a coroutine on the
// server's I/O threads (one strand per webhook), reads from the log and posts through
// `webhook_transport`, one request in flight per webhook. A conversation's messages go out in
// seq order; a failed delivery is retried with backoff (webhooks.retry_initial_ms doubling up to
// webhooks.retry_max_ms) until webhooks.max_retry_s has passed since its first failure, then
// dropped (counted) and the cursor moves past it. While one message is retried the webhook's
// other conversations wait too (one in flight per webhook).
//
// Addresses: a URL must be https, or http to a loopback address; private and link-local
// addresses are refused unless webhooks.allow_private. The host is resolved and every address
// it resolves to is checked at registration and again before every delivery (a name that
// later resolves elsewhere is refused then, and the attempt counts as failed).
//
// Thread-safety: every member may be called from any thread; awaitables resume on the
// caller's executor.

#include <array>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
}
namespace monochat::infra {
class clock;
class id_generator;
class live_config;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class message_log;
class group_store;
class webhook_store;
}  // namespace monochat::storage

namespace monochat::logic {

// The event names a webhook may ask for: "message" (every message of a followed conversation:
// text, file, edit, recall, reaction, read from the message log) and the group changes the
// social store journals (storage/group_store.hpp, "group event journal"). A journaled event
// kind is delivered once its name is listed here.
inline constexpr std::string_view webhook_event_message = "message";
inline constexpr std::array<std::string_view, 4> webhook_events{
    webhook_event_message, "member_joined", "member_left", "group_updated"};

// A webhook URL taken apart. `port` is explicit or the scheme's default.
struct webhook_url {
    std::string scheme;  // "http" or "https"
    std::string host;    // a name, or an IP literal (IPv6 without brackets)
    std::string port;
    std::string target;  // path and query, "/" at least
};

// Parses `http(s)://host[:port][/path][?query]`: no user info, no fragment, at most 2048
// bytes, printable ASCII. Errors: invalid_argument.
[[nodiscard]] result<webhook_url> parse_webhook_url(std::string_view url);

// Whether a delivery for `scheme` may go to the IP address `ip` (text): http only to loopback;
// https to loopback and public addresses, and to private or link-local ones only with
// `allow_private`; unspecified, multicast, broadcast and reserved addresses never.
// Errors: forbidden (the reason), invalid_argument (not an IP address).
[[nodiscard]] status check_webhook_address(std::string_view scheme, std::string_view ip,
                                           bool allow_private);

// The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
[[nodiscard]] std::string webhook_signature(std::string_view secret, std::int64_t unix_s,
                                            std::string_view body);

// How deliveries leave the process (gateway's Beast client; a fake in tests).
class webhook_transport {
public:
    virtual ~webhook_transport() = default;

    struct request {
        webhook_url url;
        std::vector<std::string> addresses;  // checked already; tried in order
        std::vector<std::pair<std::string, std::string>> headers;
        std::string body;
        std::chrono::milliseconds timeout{10000};  // for the whole exchange
        std::size_t max_response_bytes = 65536;
    };

    // The addresses `host` resolves to (an IP literal: itself). Errors: unavailable.
    virtual boost::asio::awaitable<result<std::vector<std::string>>> resolve(std::string host,
                                                                             std::string port) = 0;
    // POSTs the request; answers the response's status code. Errors: unavailable (connect,
    // TLS, timeout, a malformed or oversized response).
    virtual boost::asio::awaitable<result<int>> post(request r) = 0;
};

struct new_webhook {
    std::string url;
    std::vector<std::string> events;
    std::optional<std::vector<std::string>> conversation_ids;  // nullopt: every conversation
};

// A webhook with its delivery status (since the server started, besides the backlog).
struct webhook_info {
    std::uint64_t webhook_id = 0;
    std::string url;
    std::vector<std::string> events;
    std::optional<std::vector<std::string>> conversation_ids;
    std::int64_t created_ms = 0;
    std::uint64_t delivered = 0;  // messages and events delivered (2xx)
    std::uint64_t failed = 0;     // attempts that failed
    std::uint64_t dropped = 0;    // messages and events given up after webhooks.max_retry_s
    // Messages committed and membership events journaled, not yet delivered or dropped.
    std::uint64_t backlog = 0;
    std::int64_t last_delivery_ms = 0;  // 0: none yet
    std::int64_t last_error_ms = 0;     // 0: none yet
    std::string last_error;
    bool retrying = false;  // a delivery is failing now
};

struct created_webhook {
    webhook_info webhook;
    std::string secret;  // the HMAC key; answered only at creation
};

class webhooks {
public:
    webhooks() = default;
    virtual ~webhooks() = default;
    webhooks(const webhooks&) = delete;
    webhooks& operator=(const webhooks&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // Registers a webhook; it gets the messages committed from now on. Errors:
    // invalid_argument (url, events, conversation ids; an address refused or a name that does
    // not resolve), conflict (webhooks.max_webhooks reached).
    virtual task<created_webhook> create(new_webhook w) = 0;
    virtual task<std::vector<webhook_info>> list() = 0;
    // Errors: not_found.
    virtual task<webhook_info> get(std::uint64_t webhook_id) = 0;
    // Its deliveries stop (one in flight completes). Errors: not_found.
    virtual task<void> remove(std::uint64_t webhook_id) = 0;
    // A conversation gone for good (a deleted group; call once the log has dropped it): no
    // webhook delivers from it any more (a delivery being retried ends there), and every
    // webhook's cursor in it goes, in memory and in the store. The webhooks themselves stay
    // registered, their conversation filters as given. Works before start() too. Errors:
    // unavailable (the store; the cursors then stay until the next call).
    virtual task<void> forget_conversation(std::string conversation_id) = 0;

    // Listens to the log's commits and spawns, on the I/O context, the loading of the
    // webhooks and their cursors, which then starts the workers. Until it is done (or when it
    // failed: logged) the calls above answer unavailable. Call once, before the log's first
    // append.
    [[nodiscard]] virtual status start() = 0;
    // Stops listening and tells the workers to end (a request in flight is abandoned with the
    // I/O context). Idempotent.
    virtual void stop() = 0;
};

struct webhook_dependencies {
    storage::webhook_store& store;
    storage::message_log& log;
    storage::group_store& groups;  // the group event journal
    webhook_transport& transport;
    const infra::live_config& config;
    const infra::clock& clock;
    infra::id_generator& ids;
    infra::metrics_registry& metrics;
    boost::asio::io_context& io;  // where the workers run
};

// Metrics: monochat_webhook_deliveries_total{result="delivered"|"failed"|"dropped"} and
// monochat_webhook_backlog (messages and events not yet delivered or dropped, all webhooks).
[[nodiscard]] std::unique_ptr<webhooks> make_webhooks(webhook_dependencies deps);

}  // namespace monochat::logic
