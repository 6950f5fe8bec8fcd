#include <monochat/infra/config.hpp>
#include <monochat/infra/json_depth.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <variant>

extern char** environ;  // NOLINT: POSIX

namespace monochat::infra {
namespace {

using json = nlohmann::json;

// A key of the table, bound to the member it sets. Accessors take the config so that one
// table serves loading, printing, comparing and documenting.
struct field {
    std::string path;
    bool live;
    std::string doc;
    std::variant<std::int64_t* (*)(config&), double* (*)(config&), bool* (*)(config&),
                 std::string* (*)(config&), std::vector<std::string>* (*)(config&)>
        get;
    double min = 0;
    double max = 0;
    std::vector<std::string> allowed;  // for strings: the only values accepted (empty = any)
    bool non_empty = false;            // for strings without `allowed`
};

#define MC_I(p, member, lo, hi, live, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, lo, hi, {}, false }
#define MC_D(p, member, lo, hi, live, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, lo, hi, {}, false }
#define MC_B(p, member, live, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, 0, 0, {}, false }
#define MC_S(p, member, live, non_empty, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, 0, 0, {}, non_empty }
#define MC_E(p, member, live, allowed, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, 0, 0, allowed, true }
// A list of names: `max_items` entries at most, each 1 to `max_bytes` bytes.
#define MC_L(p, member, max_items, max_bytes, live, doc) \
    field { p, live, doc, +[](config& c) { return &c.member; }, max_items, max_bytes, {}, true }

constexpr double i64max = 9.0e18;
// The largest duration in seconds: 100 years. Any larger value overflows int64 once the code
// turns it into nanoseconds (std::chrono) or adds it to a timestamp in milliseconds; an
// accepted 9223372036854776 s idempotency window made the same client_msg_id store twice.
constexpr double max_seconds = 3'153'600'000.0;

const std::vector<field>& fields() {
    static const std::vector<field> table = {
        MC_S("server.host", server.host, false, true, "Listening address."),
        MC_I("server.port", server.port, 0, 65535, false,
             "Listening port; 0 binds a free port and logs it."),
        MC_I("server.io_threads", server.io_threads, 0, 256, false,
             "Network threads; 0 means one per core."),
        MC_I("server.heartbeat_ms", server.heartbeat_ms, 100, 3600000, true,
             "WebSocket ping interval; a client silent for 3x this is closed with 4002."),
        MC_I("server.max_body_bytes", server.max_body_bytes, 1024, 1LL << 30, true,
             "Largest HTTP request body; larger requests get 413."),
        MC_I("server.max_body_bytes_in_flight", server.max_body_bytes_in_flight, 1024, 1LL << 40,
             true,
             "Request body bytes held by all connections at once; past it 503 with Retry-After."),
        MC_I("server.linger_ms", server.linger_ms, 0, 60000, true,
             "After a 413, 503 or 1009, for how long the unread rest is read and dropped."),
        MC_I("server.linger_bytes", server.linger_bytes, 0, 1LL << 30, true,
             "After a 413, 503 or 1009, how many bytes of the unread rest are read and dropped."),
        MC_L("server.allowed_origins", server.allowed_origins, 1000, 2048, true,
             "Origins besides the server's own whose pages may open a WebSocket; others get 403."),
        MC_I("server.max_header_bytes", server.max_header_bytes, 1024, 1 << 20, true,
             "Largest HTTP header block; larger requests get 431."),
        MC_I("server.request_timeout_ms", server.request_timeout_ms, 100, 3600000, true,
             "Time allowed to send one whole request; slower clients are dropped."),
        MC_I("server.idle_timeout_ms", server.idle_timeout_ms, 100, 86400000, true,
             "Keep-alive connections idle this long between requests are closed."),
        MC_I("server.drain_delay_ms", server.drain_delay_ms, 0, 60000, true,
             "After SIGTERM, /readyz fails this long before the listener closes."),
        MC_I("server.shutdown_timeout_ms", server.shutdown_timeout_ms, 0, 60000, true,
             "How long a graceful stop may take before the process exits anyway."),
        MC_S("server.tls.cert_file", server.tls.cert_file, true, false,
             "PEM certificate chain; with key_file, serves HTTPS and WSS."),
        MC_S("server.tls.key_file", server.tls.key_file, true, false, "PEM private key."),
        MC_B("server.tls.allow_plain", server.tls.allow_plain, true,
             "With a certificate, also serve plain HTTP/WS on the same port; else plain gets 400."),
        MC_I("server.handshake_timeout_ms", server.handshake_timeout_ms, 100, 3600000, true,
             "Time allowed for a TLS handshake and a WebSocket's opening and closing handshakes."),

        MC_S("storage.data_dir", storage.data_dir, false, true,
             "Directory of the SQLite and RocksDB files."),
        MC_E("storage.sync", storage.sync, false, (std::vector<std::string>{"always", "none"}),
             "always: an ack means fsync'ed; none: an ack means the OS has the write."),
        MC_E("storage.engine", storage.engine, false,
             (std::vector<std::string>{"rocksdb", "memory"}),
             "rocksdb (durable) or memory (nothing survives a restart)."),
        MC_I("storage.max_batch", storage.max_batch, 1, 65536, false,
             "Most appends written by one group commit."),
        MC_I("storage.cache_conversations", storage.cache_conversations, 0, 10000000, false,
             "Conversations kept in the recent-message cache."),
        MC_I("storage.cache_messages_per_conversation", storage.cache_messages_per_conversation,
             0, 100000, false, "Recent messages cached per conversation."),
        MC_I("storage.read_state_flush_ms", storage.read_state_flush_ms, 1, 60000, false,
             "Longest a sender's new read position waits in memory before its SQLite write."),
        MC_I("storage.cache_users", storage.cache_users, 0, 100000000, false,
             "User records kept in memory for access checks (0: none)."),
        MC_I("storage.cache_friendships", storage.cache_friendships, 0, 100000000, false,
             "Friendships (pairs, either answer) kept in memory for access checks (0: none)."),
        MC_I("storage.sqlite_readers", storage.sqlite_readers, 1, 64, false,
             "SQLite read connections besides the one writer."),
        MC_I("storage.block_cache_mb", storage.block_cache_mb, 1, 1 << 20, false,
             "RocksDB block cache size in MiB."),

        MC_D("limits.send_rate", limits.send_rate, 0.001, 1e9, true,
             "Sends per user per second (token bucket refill)."),
        MC_I("limits.send_burst", limits.send_burst, 1, 1000000000, true,
             "Token bucket size for sends per user."),
        MC_I("limits.auth_rate", limits.auth_rate, 1, 1000000000, true,
             "Registrations and logins per client address per minute."),
        MC_I("limits.max_connections", limits.max_connections, 1, 100000000, true,
             "Open connections in all (HTTP and WebSocket)."),
        MC_I("limits.max_connections_per_address", limits.max_connections_per_address, 0,
             100000000, true, "Open connections from one client address (IPv6: a /64); 0: no limit."),
        MC_D("limits.connection_rate", limits.connection_rate, 0, 1e9, true,
             "New connections per second from one client address (token bucket); 0: no limit."),
        MC_I("limits.connection_burst", limits.connection_burst, 1, 1000000000, true,
             "Token bucket size for new connections per client address."),
        MC_I("limits.max_frame_bytes", limits.max_frame_bytes, 256, 64 << 20, true,
             "Largest WebSocket frame a client may send; larger closes with 1009."),
        MC_I("limits.max_text_bytes", limits.max_text_bytes, 1, 16 << 20, true,
             "Largest text body of a message."),
        MC_I("limits.max_reaction_kinds", limits.max_reaction_kinds, 1, 100, true,
             "Distinct emoji one message may carry as reactions; a new one past it is 409."),
        MC_I("limits.max_group_members", limits.max_group_members, 2, 100000000, true,
             "Most members of one group."),

        MC_I("limits.outbox_frames", limits.outbox_frames, 1, 100000000, true,
             "Frames a WebSocket session may have queued before it is closed with 4008."),
        MC_I("limits.outbox_bytes", limits.outbox_bytes, 1024, 1LL << 34, true,
             "Bytes a WebSocket session may have queued before it is closed with 4008."),
        MC_I("limits.ws_inflight", limits.ws_inflight, 1, 100000, true,
             "Requests one WebSocket session may have in progress at once."),
        MC_D("limits.ws_message_rate", limits.ws_message_rate, 0, 1e9, true,
             "Client frames per second on one WebSocket (token bucket); 0: no limit."),
        MC_I("limits.ws_message_burst", limits.ws_message_burst, 1, 1000000000, true,
             "Token bucket size for client frames per WebSocket."),
        MC_I("limits.typing_interval_ms", limits.typing_interval_ms, 0, 3600000, true,
             "Typing is pushed at most once per this interval per user and conversation."),
        MC_I("limits.typing_entries", limits.typing_entries, 1, 100000000, true,
             "Users and conversations whose last typing push is remembered; beyond, typing is dropped."),
        MC_I("limits.max_edits_per_message", limits.max_edits_per_message, 1, 100000, true,
             "Edits one message may have; a further edit is 409."),
        MC_I("limits.max_group_query_bytes", limits.max_group_query_bytes, 1, 4096, true,
             "Longest q of the public-group directory (GET /groups?public=true); longer is 400."),
        MC_I("limits.max_group_invites", limits.max_group_invites, 1, 100000, true,
             "Usable invite links one group may have; another is 409."),
        MC_I("limits.max_group_invite_uses", limits.max_group_invite_uses, 1, 100000000, true,
             "Most uses one group invite link may have; more is 400."),
        MC_I("limits.max_group_invite_ttl_s", limits.max_group_invite_ttl_s, 1, 315360000, true,
             "Longest life of a group invite link, and the life of one made without expires_in_s."),
        MC_I("limits.group_join_rate", limits.group_join_rate, 1, 1000000000, true,
             "POST /groups/join (invite links) attempts per user per minute."),
        MC_I("limits.max_file_bytes", limits.max_file_bytes, 1, 1LL << 40, true,
             "Largest uploaded file; larger is 413."),
        MC_I("limits.user_storage_bytes", limits.user_storage_bytes, 0, 1LL << 50, true,
             "All of one user's uploaded files together; an upload past it is 413."),
        MC_I("files.unshared_ttl_s", files.unshared_ttl_s, 1, max_seconds, true,
             "A file no message shares is deleted this long after its upload."),
        MC_I("files.sweep_interval_s", files.sweep_interval_s, 1, 86400, true,
             "How often unshared files past their TTL are looked for."),
        MC_I("fanout.large_group_threshold", fanout.large_group_threshold, 1, 100000000, true,
             "Groups above this many members are fanned out by task workers."),
        MC_I("fanout.shard_size", fanout.shard_size, 1, 1000000, true,
             "Members per fan-out shard."),
        MC_I("fanout.publish_wait_ms", fanout.publish_wait_ms, 0, 600000, true,
             "How long a push waits for room in a full internal queue before the sessions that "
             "miss it are closed with 4009."),
        MC_I("fanout.queue_capacity", fanout.queue_capacity, 1, 16777216, false,
             "Messages each partition of an internal delivery queue holds per consumer."),
        MC_I("fanout.lane_batch", fanout.lane_batch, 1, 4096, false,
             "Most pushes a large group's lane takes in one walk, waking each connection once "
             "for all of them."),
        MC_I("fanout.wake_chunk", fanout.wake_chunk, 1, 65536, false,
             "Most connections a large group's lane wakes in one handler before the I/O threads' "
             "other work runs."),
        MC_I("search.max_batch", search.max_batch, 1, 65536, false,
             "Most messages the search indexer writes in one transaction."),
        MC_I("search.batch_delay_ms", search.batch_delay_ms, 0, 60000, false,
             "How long the search indexer waits for more messages before writing a batch."),
        MC_I("search.readers", search.readers, 1, 64, false,
             "Read connections of the search index: searches that run at once."),

        MC_B("policy.dm_requires_friendship", policy.dm_requires_friendship, true,
             "Direct chats only between friends."),
        MC_I("policy.edit_window_s", policy.edit_window_s, 0, max_seconds, true,
             "How long after sending a message its sender may edit it."),
        MC_I("policy.recall_window_s", policy.recall_window_s, 0, max_seconds, true,
             "How long after sending a message its sender may recall it."),
        MC_I("policy.idempotency_window_s", policy.idempotency_window_s, 60, max_seconds, false,
             "How long a client_msg_id is remembered for idempotent retries."),
        MC_I("policy.world_slow_mode_s", policy.world_slow_mode_s, 0, 86400, true,
             "Slow mode in world: one new message per user per this many seconds (0: off); "
             "admins are exempt."),

        MC_I("auth.token_ttl_s", auth.token_ttl_s, 1, max_seconds, true, "Token lifetime."),
        MC_I("auth.argon2_ops", auth.argon2_ops, 1, 100, true,
             "Argon2id iterations for new password hashes."),
        MC_I("auth.argon2_memory_kib", auth.argon2_memory_kib, 8, 4 << 20, true,
             "Argon2id memory in KiB for new password hashes."),
        MC_I("auth.login_max_failures", auth.login_max_failures, 1, 1000000, true,
             "Failed logins per username or address within the window before lockout."),
        MC_I("auth.login_failure_window_s", auth.login_failure_window_s, 1, max_seconds, true,
             "Window in which failed logins are counted."),
        MC_I("auth.login_lockout_s", auth.login_lockout_s, 1, max_seconds, true,
             "How long a locked-out username or address is refused with 429."),
        MC_L("auth.admins", auth.admins, 1000, 64, true,
             "Usernames with the admin role (the only admins; none by default). The environment "
             "takes a JSON array or a comma-separated list."),
        MC_I("auth.guest_ttl_s", auth.guest_ttl_s, 1, max_seconds, true,
             "A guest idle this long (no connection, no request) is purged; its messages stay."),
        MC_I("auth.sweep_interval_s", auth.sweep_interval_s, 1, 86400, true,
             "How often expired tokens and idle guests are purged."),
        MC_I("auth.sweep_batch", auth.sweep_batch, 1, 100000, true,
             "Most tokens or guests purged by one write of a sweep."),
        MC_E("auth.registration", auth.registration, true,
             (std::vector<std::string>{"open", "invite", "closed"}),
             "Who may register: open (anyone), invite (with an admin's invite code) or closed "
             "(admins create accounts)."),
        MC_B("auth.guests", auth.guests, true,
             "Whether POST /auth/guest creates guests; existing guests keep working."),
        MC_I("auth.max_invite_uses", auth.max_invite_uses, 1, 100000000, true,
             "Most uses one admin invite may have; more is 400."),

        MC_E("log.level", log.level, true,
             (std::vector<std::string>{"trace", "debug", "info", "warn", "error"}),
             "Least severe level written."),
        MC_E("log.format", log.format, true, (std::vector<std::string>{"logfmt", "json"}),
             "Log line format."),

        MC_S("admin.backup_dir", admin.backup_dir, true, false,
             "Directory of online backups; empty means <data_dir>/backups."),
        MC_I("trace.buffer_messages", trace.buffer_messages, 0, 10000000, true,
             "Recent messages whose path is kept for the admin trace; 0 turns tracing off."),
        MC_I("trace.sample_every", trace.sample_every, 1, 1000000, true,
             "One message in this many is traced (picked by its id; 1 traces every message)."),

        MC_I("webhooks.max_retry_s", webhooks.max_retry_s, 1, max_seconds, true,
             "How long one message's webhook delivery is retried before it is dropped."),
        MC_I("webhooks.retry_initial_ms", webhooks.retry_initial_ms, 1, 3600000, true,
             "Delay before the first retry of a failed webhook delivery; doubles after each."),
        MC_I("webhooks.retry_max_ms", webhooks.retry_max_ms, 1, 86400000, true,
             "Longest delay between two attempts of a webhook delivery."),
        MC_I("webhooks.timeout_ms", webhooks.timeout_ms, 100, 600000, true,
             "Time allowed for one webhook delivery: connect, TLS, request and response."),
        MC_I("webhooks.max_response_bytes", webhooks.max_response_bytes, 1024, 1 << 30, true,
             "Largest response body read from a webhook receiver."),
        MC_B("webhooks.allow_private", webhooks.allow_private, true,
             "Allow webhook URLs on private and link-local addresses (checked at every delivery)."),
        MC_I("webhooks.max_webhooks", webhooks.max_webhooks, 1, 100000, true,
             "Most webhooks registered at once; more is 409."),
        MC_I("webhooks.max_conversation_ids", webhooks.max_conversation_ids, 1, 1000000, true,
             "Most conversation ids one webhook may follow; more is 400."),

        MC_B("push.preview", push.preview, true,
             "Whether a Web Push carries the first ~100 characters of the message."),
        MC_S("push.subject", push.subject, true, true,
             "The VAPID contact (a mailto: or https: URL) sent to push services."),
        MC_I("push.ttl_s", push.ttl_s, 0, 2419200, true,
             "How long a push service keeps a push for an offline browser (the TTL header)."),
        MC_I("push.queue_per_endpoint", push.queue_per_endpoint, 1, 10000, true,
             "Pushes waiting per subscription; a push to a full queue is dropped."),
        MC_I("push.max_retry_s", push.max_retry_s, 1, max_seconds, true,
             "How long one push is retried before it is dropped."),
        MC_I("push.retry_initial_ms", push.retry_initial_ms, 1, 3600000, true,
             "Delay before the first retry of a failed push; doubles after each."),
        MC_I("push.retry_max_ms", push.retry_max_ms, 1, 86400000, true,
             "Longest delay between two attempts of a push."),
        MC_I("push.timeout_ms", push.timeout_ms, 100, 600000, true,
             "Time allowed for one request to a push service."),
        MC_B("push.allow_private", push.allow_private, true,
             "Allow push endpoints on private and link-local addresses (checked at every push)."),
        MC_I("push.max_subscriptions_per_user", push.max_subscriptions_per_user, 1, 10000, true,
             "Most push subscriptions one user may hold; more is 409."),
        MC_I("push.max_pending", push.max_pending, 1, 10000000, true,
             "Committed messages waiting to be looked at for pushes; past it they get none."),
    };
    return table;
}

#undef MC_I
#undef MC_D
#undef MC_B
#undef MC_S
#undef MC_E
#undef MC_L

std::string env_name(const std::string& path) {
    std::string out = "MONOCHAT_";
    for (char ch : path) {
        out += ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    }
    return out;
}

std::string type_name(const field& f) {
    switch (f.get.index()) {
        case 0: return "integer";
        case 1: return "number";
        case 2: return "boolean";
        case 3: return "string";
        default: return "array of strings";
    }
}

json current_value(const field& f, config& c) {
    return std::visit([&](auto getter) { return json(*getter(c)); }, f.get);
}

std::string format_number(double v) {
    if (v >= i64max) {
        return "max";
    }
    return fmt::format("{}", v);
}

std::string range_text(const field& f) {
    return fmt::format("{}..{}", format_number(f.min), format_number(f.max));
}

// "a, b,,c " -> {"a", "b", "c"}: entries trimmed of spaces, empty ones dropped.
std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    while (!text.empty()) {
        const auto comma = text.find(',');
        auto item = text.substr(0, comma);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
            item.remove_prefix(1);
        }
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
            item.remove_suffix(1);
        }
        if (!item.empty()) {
            out.emplace_back(item);
        }
        if (comma == std::string_view::npos) {
            break;
        }
        text.remove_prefix(comma + 1);
    }
    return out;
}

// Sets one key from a JSON value, checking type and range (for lists: `min` is the most
// entries, `max` the most bytes of one).
status assign(const field& f, config& c, const json& v) {
    const std::string& p = f.path;
    switch (f.get.index()) {
        case 0: {
            std::int64_t n = 0;
            if (v.is_number_integer()) {
                n = v.get<std::int64_t>();
            } else if (v.is_number_unsigned()) {
                if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
                    return make_error(errc::invalid_argument,
                                      fmt::format("{}: {} is outside {}", p, v.dump(), range_text(f)));
                }
                n = static_cast<std::int64_t>(v.get<std::uint64_t>());
            } else {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected an integer, got {}", p, v.dump()));
            }
            if (static_cast<double>(n) < f.min || static_cast<double>(n) > f.max) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: {} is outside {}", p, n, range_text(f)));
            }
            *std::get<0>(f.get)(c) = n;
            return {};
        }
        case 1: {
            if (!v.is_number()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected a number, got {}", p, v.dump()));
            }
            const double d = v.get<double>();
            if (!(d >= f.min && d <= f.max)) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: {} is outside {}", p, d, range_text(f)));
            }
            *std::get<1>(f.get)(c) = d;
            return {};
        }
        case 2: {
            if (!v.is_boolean()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected true or false, got {}", p, v.dump()));
            }
            *std::get<2>(f.get)(c) = v.get<bool>();
            return {};
        }
        case 3: {
            if (!v.is_string()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected a string, got {}", p, v.dump()));
            }
            auto s = v.get<std::string>();
            if (!f.allowed.empty() &&
                std::find(f.allowed.begin(), f.allowed.end(), s) == f.allowed.end()) {
                std::string list;
                for (const auto& a : f.allowed) {
                    list += (list.empty() ? "" : ", ") + a;
                }
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: \"{}\" is not one of {}", p, s, list));
            }
            if (f.non_empty && s.empty()) {
                return make_error(errc::invalid_argument, fmt::format("{}: must not be empty", p));
            }
            *std::get<3>(f.get)(c) = std::move(s);
            return {};
        }
        default: {
            // A comma-separated string is accepted too (what `auth.admins` was before it
            // became a list), so that older files keep working.
            std::vector<std::string> items;
            if (v.is_string()) {
                items = split_list(v.get_ref<const std::string&>());
            } else if (v.is_array()) {
                for (const auto& item : v) {
                    if (!item.is_string()) {
                        return make_error(errc::invalid_argument,
                                          fmt::format("{}: expected strings, got {}", p, item.dump()));
                    }
                    items.push_back(item.get<std::string>());
                }
            } else {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected an array of strings, got {}", p, v.dump()));
            }
            if (static_cast<double>(items.size()) > f.min) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: more than {} entries", p, f.min));
            }
            for (const auto& item : items) {
                if (item.empty() || static_cast<double>(item.size()) > f.max) {
                    return make_error(errc::invalid_argument,
                                      fmt::format("{}: \"{}\" is not 1 to {} bytes", p, item, f.max));
                }
            }
            *std::get<4>(f.get)(c) = std::move(items);
            return {};
        }
    }
}

const field* find_field(std::string_view path) {
    for (const auto& f : fields()) {
        if (f.path == path) {
            return &f;
        }
    }
    return nullptr;
}

bool is_section_prefix(std::string_view path) {
    for (const auto& f : fields()) {
        if (f.path.size() > path.size() && f.path.compare(0, path.size(), path) == 0 &&
            f.path[path.size()] == '.') {
            return true;
        }
    }
    return false;
}

// Walks a JSON object; every leaf must be a known key.
status apply_object(const json& obj, const std::string& prefix, config& c) {
    for (const auto& [key, value] : obj.items()) {
        const std::string path = prefix.empty() ? key : prefix + "." + key;
        if (const field* f = find_field(path)) {
            if (auto st = assign(*f, c, value); !st) {
                return st;
            }
            continue;
        }
        if (is_section_prefix(path)) {
            if (!value.is_object()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected an object, got {}", path, value.dump()));
            }
            if (auto st = apply_object(value, path, c); !st) {
                return st;
            }
            continue;
        }
        return make_error(errc::invalid_argument, fmt::format("{}: unknown key", path));
    }
    return {};
}

// Environment values are text; they are read as the key's type.
status apply_env(const field& f, config& c, const std::string& text) {
    const std::string where = env_name(f.path) + " (" + f.path + ")";
    json v;
    switch (f.get.index()) {
        case 0:
        case 1: {
            if (json_nesting_exceeds(text)) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected a number, got \"{}\"", where, text));
            }
            v = json::parse(text, nullptr, false);
            if (v.is_discarded() || !v.is_number()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected a number, got \"{}\"", where, text));
            }
            break;
        }
        case 2: {
            if (text == "true" || text == "1") {
                v = true;
            } else if (text == "false" || text == "0") {
                v = false;
            } else {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: expected true or false, got \"{}\"", where, text));
            }
            break;
        }
        case 3: v = text; break;
        default: {
            // A JSON array (`["alice","bob"]`) or a comma-separated list (`alice,bob`).
            const auto first = text.find_first_not_of(" \t");
            if (first != std::string::npos && text[first] == '[') {
                if (json_nesting_exceeds(text)) {
                    return make_error(errc::invalid_argument,
                                      fmt::format("{}: {}", where, json_too_deep_message));
                }
                v = json::parse(text, nullptr, false);
                if (v.is_discarded()) {
                    return make_error(errc::invalid_argument,
                                      fmt::format("{}: not a JSON array: \"{}\"", where, text));
                }
            } else {
                v = text;
            }
            break;
        }
    }
    auto st = assign(f, c, v);
    if (!st) {
        return make_error(errc::invalid_argument, env_name(f.path) + ": " + st.error().message);
    }
    return st;
}

// Rules that involve more than one key.
status check_cross_fields(const config& c) {
    if (c.server.tls.cert_file.empty() != c.server.tls.key_file.empty()) {
        return make_error(errc::invalid_argument,
                          "server.tls.cert_file: cert_file and key_file must be set together");
    }
    return {};
}

}  // namespace

environment monochat_environment() {
    environment env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view kv(*e);
        if (kv.rfind("MONOCHAT_", 0) != 0) {
            continue;
        }
        const auto eq = kv.find('=');
        if (eq == std::string_view::npos) {
            continue;
        }
        env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return env;
}

result<config> parse_config(std::string_view json_text, const environment& env) {
    config c;
    const bool blank = std::all_of(json_text.begin(), json_text.end(),
                                   [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
    if (!blank) {
        if (json_nesting_exceeds(json_text, {.limit = max_json_depth, .comments = true})) {
            return make_error(errc::invalid_argument,
                              fmt::format("config: {}", json_too_deep_message));
        }
        json doc;
        try {
            doc = json::parse(json_text, nullptr, true, /*ignore_comments=*/true);
        } catch (const json::exception& e) {
            // Not only parse_error: a number too large for a double (1e400) is out_of_range.
            return make_error(errc::invalid_argument,
                              fmt::format("config: not valid JSON: {}", e.what()));
        }
        if (!doc.is_object()) {
            return make_error(errc::invalid_argument, "config: the top level must be an object");
        }
        if (auto st = apply_object(doc, "", c); !st) {
            return st.error();
        }
    }
    for (const auto& f : fields()) {
        if (auto it = env.find(env_name(f.path)); it != env.end()) {
            if (auto st = apply_env(f, c, it->second); !st) {
                return st.error();
            }
        }
    }
    if (auto st = check_cross_fields(c); !st) {
        return st.error();
    }
    return c;
}

result<config> load_config(const std::optional<std::string>& path, const environment& env) {
    std::string text;
    if (path) {
        std::ifstream in(*path, std::ios::binary);
        if (!in) {
            return make_error(errc::invalid_argument,
                              fmt::format("config: cannot read file \"{}\"", *path));
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    return parse_config(text, env);
}

std::string to_json(const config& cfg) {
    config copy = cfg;
    json out = json::object();
    for (const auto& f : fields()) {
        json* node = &out;
        std::string_view rest = f.path;
        for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
            node = &(*node)[std::string(rest.substr(0, dot))];
            rest.remove_prefix(dot + 1);
        }
        (*node)[std::string(rest)] = current_value(f, copy);
    }
    return out.dump(2);
}

std::vector<config_key_info> describe_config() {
    config defaults;
    std::vector<config_key_info> out;
    for (const auto& f : fields()) {
        out.push_back({f.path, env_name(f.path), type_name(f), current_value(f, defaults).dump(),
                       f.live, f.doc});
    }
    return out;
}

std::vector<std::string> restart_required_changes(const config& a, const config& b) {
    config ca = a;
    config cb = b;
    std::vector<std::string> out;
    for (const auto& f : fields()) {
        if (!f.live && current_value(f, ca) != current_value(f, cb)) {
            out.push_back(f.path);
        }
    }
    return out;
}

reload_plan plan_reload(const config& running, const config& loaded) {
    config cur = running;
    config nxt = loaded;
    reload_plan plan;
    plan.next = running;
    for (const auto& f : fields()) {
        const json before = current_value(f, cur);
        const json after = current_value(f, nxt);
        if (before == after) {
            continue;
        }
        if (!f.live) {
            plan.restart_required.push_back(f.path);
            continue;
        }
        plan.applied.push_back(f.path);
        // Cannot fail: `loaded` was validated, so its value is of the right type and range.
        (void)assign(f, plan.next, after);
    }
    return plan;
}

result<config> apply_live_patch(const config& base, std::string_view json_text) {
    if (json_nesting_exceeds(json_text)) {
        return make_error(errc::invalid_argument, fmt::format("settings: {}", json_too_deep_message));
    }
    json doc = json::parse(json_text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return make_error(errc::invalid_argument, "settings: expected a JSON object");
    }
    // Flat keys ("limits.send_rate") are unflattened so both spellings walk the same table.
    json nested = json::object();
    for (const auto& [key, value] : doc.items()) {
        if (key.find('.') == std::string::npos) {
            if (nested.contains(key) && nested[key].is_object() && value.is_object()) {
                nested[key].update(value);
            } else {
                nested[key] = value;
            }
            continue;
        }
        json* node = &nested;
        std::string_view rest = key;
        for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
            node = &(*node)[std::string(rest.substr(0, dot))];
            if (node->is_null()) {
                *node = json::object();
            }
            if (!node->is_object()) {
                return make_error(errc::invalid_argument,
                                  fmt::format("{}: conflicts with another key", key));
            }
            rest.remove_prefix(dot + 1);
        }
        (*node)[std::string(rest)] = value;
    }
    config c = base;
    if (auto st = apply_object(nested, "", c); !st) {
        return st.error();
    }
    if (auto st = check_cross_fields(c); !st) {
        return st.error();
    }
    if (auto fixed = restart_required_changes(base, c); !fixed.empty()) {
        return make_error(errc::invalid_argument,
                          fmt::format("{}: not live; change it in the file and restart", fixed[0]));
    }
    return c;
}

std::string live_to_json(const config& cfg) {
    config copy = cfg;
    json out = json::object();
    for (const auto& f : fields()) {
        if (!f.live) {
            continue;
        }
        json* node = &out;
        std::string_view rest = f.path;
        for (auto dot = rest.find('.'); dot != std::string_view::npos; dot = rest.find('.')) {
            node = &(*node)[std::string(rest.substr(0, dot))];
            rest.remove_prefix(dot + 1);
        }
        (*node)[std::string(rest)] = current_value(f, copy);
    }
    return out.dump();
}

}  // namespace monochat::infra
