#pragma once
// Configuration: a tree of plain structs with embedded defaults.
//
// Load order: embedded defaults, then the JSON file (`--config FILE`), then environment
// overrides `MONOCHAT_<SECTION>_<KEY>` (`MONOCHAT_SERVER_PORT=9000`), then validation. An unknown
// key, a wrong type or an out-of-range value is an error whose message names the key
// (`server.port: 70000 is outside 0..65535`). Each module receives only its own section.
//
// Keys marked live in the key table (see `describe_config()`) may be changed at run time by a
// reload; the others need a restart. docs/configuration.md lists every key.

#include <cstdint>
#include <map>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::infra {

struct tls_options {
    // PEM certificate chain and private key. Both empty: plain HTTP/WS. Default: empty.
    std::string cert_file;
    std::string key_file;
    // With a certificate: whether plain HTTP/WS is still served on the same port (each
    // connection's first bytes tell TLS from plain). false: a plain request gets 400 and is
    // closed. Default: false.
    bool allow_plain = false;
};

struct server_options {
    // Listening address. Default: 127.0.0.1 (the Docker image sets 0.0.0.0).
    std::string host = "127.0.0.1";
    // Listening port; 0 binds a free port and logs it. Default: 8080.
    std::int64_t port = 8080;
    // Network threads; 0 means one per core. Default: 0.
    std::int64_t io_threads = 0;
    // WebSocket heartbeat interval; a client silent for 3x this is closed. Default: 30000.
    std::int64_t heartbeat_ms = 30000;
    // Largest HTTP request body accepted (413 above). Default: 64 KiB.
    std::int64_t max_body_bytes = 64 * 1024;
    // Request bytes all connections together may hold in bodies being received or handled: a
    // body is charged by its Content-Length up front (a chunked one as its bytes arrive) and
    // released when its answer is written; past it a request gets 503 with Retry-After.
    // Default: 64 MiB.
    std::int64_t max_body_bytes_in_flight = 64LL << 20;
    // Lingering close: after a refusal that leaves a request unread (413, 503) or a WebSocket
    // close for a frame too large (1009), the server half-closes and reads and drops what the
    // client still sends, for at most this long and this many bytes, so that the answer is not
    // destroyed by a reset. Defaults: 5 s, 4 MiB.
    std::int64_t linger_ms = 5000;
    std::int64_t linger_bytes = 4LL << 20;
    // Origins (scheme://host[:port]) besides the server's own whose pages may open a WebSocket;
    // an upgrade with any other Origin header gets 403. Default: empty.
    std::vector<std::string> allowed_origins;
    // Largest HTTP request header block accepted (431 above). Default: 16 KiB.
    std::int64_t max_header_bytes = 16 * 1024;
    // Time a client has to send a whole request (headers and body) once it started. Default: 10 s.
    std::int64_t request_timeout_ms = 10000;
    // Keep-alive: a connection idle between requests this long is closed. Default: 60 s.
    std::int64_t idle_timeout_ms = 60000;
    // Time a new connection has to complete its TLS handshake (and, on a TLS port, to start
    // it), and a WebSocket its opening and closing handshakes. Default: 10 s.
    std::int64_t handshake_timeout_ms = 10000;
    // After SIGTERM, /readyz fails this long before the listener closes, so that a load
    // balancer stops sending new clients first. Default: 0.
    std::int64_t drain_delay_ms = 0;
    // Graceful stop budget after SIGTERM before the process exits anyway. Default: 8 s.
    std::int64_t shutdown_timeout_ms = 8000;
    tls_options tls;
};

struct storage_options {
    // Directory of the SQLite and RocksDB files. Default: ./data.
    std::string data_dir = "./data";
    // "always": an ack means the WAL was fsync'ed; "none": acks once the OS has the write.
    std::string sync = "always";
    // "rocksdb" (durable) or "memory" (nothing survives a restart; for tests and demos).
    std::string engine = "rocksdb";
    // Most appends written in one group commit. Default: 1024.
    std::int64_t max_batch = 1024;
    // Recent-message cache: conversations kept, and messages kept per conversation.
    std::int64_t cache_conversations = 10000;
    std::int64_t cache_messages_per_conversation = 256;
    std::int64_t read_state_flush_ms = 1000;
    std::int64_t cache_users = 100000;
    std::int64_t cache_friendships = 200000;
    // SQLite read connections (one writer besides). Default: 4.
    std::int64_t sqlite_readers = 4;
    // RocksDB block cache in MiB. Default: 64.
    std::int64_t block_cache_mb = 64;
};

struct limits_options {
    // Sends per user per second and the burst of its token bucket.
    double send_rate = 20;
    std::int64_t send_burst = 50;
    // Registrations and logins per client address per minute.
    std::int64_t auth_rate = 30;
    std::int64_t max_connections = 100000;
    // Open connections from one client address (IPv6: one /64); 0 means unlimited. Behind a
    // reverse proxy every client has the proxy's address: raise or disable. Default: 1000.
    std::int64_t max_connections_per_address = 1000;
    // New connections per second from one client address (token bucket refill; 0 means
    // unlimited) and the bucket's size. Defaults: 50 per second, burst 200.
    double connection_rate = 50;
    std::int64_t connection_burst = 200;
    std::int64_t max_frame_bytes = 65536;
    std::int64_t max_text_bytes = 8192;
    // Distinct emoji one message may carry as reactions; a new one past it is conflict (409).
    // Bounds the summary each message keeps of its reactions. Default: 20.
    std::int64_t max_reaction_kinds = 20;
    std::int64_t max_group_members = 100000;
    // A WebSocket session's outgoing queue: frames and bytes waiting to be written. A session
    // past either bound is closed with 4008 (slow consumer). Defaults: 4096 frames, 4 MiB.
    std::int64_t outbox_frames = 4096;
    std::int64_t outbox_bytes = 4 << 20;
    // Requests (send, sync, read, typing) one WebSocket session may have in progress at once;
    // the session stops reading frames while at the bound. Default: 256.
    std::int64_t ws_inflight = 256;
    // Client frames per second on one WebSocket (token bucket refill; 0 means unlimited) and
    // the bucket's size. A frame past it is answered with rate_limited; a client that keeps
    // flooding is closed with 1008. Defaults: 100 per second, burst 200.
    double ws_message_rate = 100;
    std::int64_t ws_message_burst = 200;
    // Typing is pushed at most once per this interval per user and conversation; the frames
    // in between are dropped quietly (shared/protocol.md 1.1). Default: 3000.
    std::int64_t typing_interval_ms = 3000;
    // Users and conversations whose last typing push is remembered (for the interval above);
    // a typing frame that finds the table full of unexpired entries is dropped. Default: 100000.
    std::int64_t typing_entries = 100000;
    // Edits one message may have; a further edit is 409 conflict. A recall removes the text of
    // each edit, so the target remembers them all. Default: 100.
    std::int64_t max_edits_per_message = 100;
    // Longest `q` of the public-group directory (GET /groups?public=true&q=); longer is 400.
    // Group names are at most 64 bytes, so a longer query finds nothing anyway. Default: 64.
    std::int64_t max_group_query_bytes = 64;
    // Group invite links (POST /groups/{id}/invites): usable links one group may have (another
    // is 409), most uses of one link, and the longest life of one (also the life of a link made
    // without expires_in_s). Defaults: 100 links, 10000 uses, 2592000 s (30 days).
    std::int64_t max_group_invites = 100;
    std::int64_t max_group_invite_uses = 10000;
    std::int64_t max_group_invite_ttl_s = 2592000;
    // POST /groups/join attempts per user per minute (a token bucket of this size refilled
    // evenly), so that invite codes cannot be guessed by trying. Default: 20.
    std::int64_t group_join_rate = 20;
    // Largest uploaded file (POST /files); larger is 413, refused as the bytes arrive.
    // Default: 26214400 (25 MiB).
    std::int64_t max_file_bytes = 26214400;
    // All of one user's uploaded files together; an upload past it is 413. Default: 1 GiB.
    std::int64_t user_storage_bytes = 1073741824;
};

struct files_options {
    // A file that no message shares is deleted this long after its upload. Default: 86400.
    std::int64_t unshared_ttl_s = 86400;
    // How often unshared files past their TTL are looked for. Default: 600.
    std::int64_t sweep_interval_s = 600;
};

struct fanout_options {
    std::int64_t large_group_threshold = 500;
    std::int64_t shard_size = 500;
    // How long the delivery path (router, fan-out workers) waits for room in a full internal
    // queue before it gives up on a push and closes the sessions that miss it with 4009.
    // Default: 10000.
    std::int64_t publish_wait_ms = 10000;
    // Messages each partition of an internal delivery queue (persisted, fanout, downstream)
    // holds per consumer. Default: 65536.
    std::int64_t queue_capacity = 65536;
    // Most pushes a large group's lane takes in one walk over the registry, waking each
    // connection once for all of them. Default: 64.
    std::int64_t lane_batch = 64;
    // Most connections a lane wakes in one handler on the I/O threads before it lets the
    // other handlers waiting there (socket reads, acks) run. Default: 256.
    std::int64_t wake_chunk = 256;
};

struct search_options {
    // Most messages the search indexer writes in one transaction. Default: 8192.
    std::int64_t max_batch = 8192;
    // How long the indexer waits for more messages after the first of a batch before writing
    // it. Each transaction costs FTS5 a segment (and later merges): at 250 ms a busy server
    // writes a few large transactions a second instead of many small ones (w2-max: 177 -> 148
    // µs of server CPU per message), and a message is searchable well within a second.
    // Default: 250.
    std::int64_t batch_delay_ms = 250;
    // Read connections of the search index (searches running at once). Default: 2.
    std::int64_t readers = 2;
};

struct policy_options {
    bool dm_requires_friendship = true;
    std::int64_t edit_window_s = 86400;
    std::int64_t recall_window_s = 120;
    std::int64_t idempotency_window_s = 604800;
    // Slow mode in world: one new message per user per this many seconds; 0: off.
    std::int64_t world_slow_mode_s = 0;
};

struct auth_options {
    // Token lifetime. Default: 30 days.
    std::int64_t token_ttl_s = 30LL * 24 * 3600;
    // Argon2id cost: iterations and memory in KiB. Defaults follow OWASP's minimum
    // (m=19 MiB, t=2).
    std::int64_t argon2_ops = 2;
    std::int64_t argon2_memory_kib = 19 * 1024;
    // Login brute-force guard: failures per username or client address within the window
    // before further attempts are refused with 429 for lockout_s.
    std::int64_t login_max_failures = 10;
    std::int64_t login_failure_window_s = 300;
    std::int64_t login_lockout_s = 300;
    // Usernames with the admin role (GET /me says "admin": true; the admin API answers them).
    // The only admins there are: no account is an admin by being the first. Live: a reload
    // changes who is admin at once. Guests never are. Default: empty (no admin).
    std::vector<std::string> admins;
    // A guest with no live connection and no authenticated request for this long is purged:
    // its tokens, read state and presence go, its messages stay and show as "Deleted user".
    // Default: 7 days.
    std::int64_t guest_ttl_s = 7LL * 24 * 3600;
    // How often expired tokens and idle guests are purged. Default: 3600.
    std::int64_t sweep_interval_s = 3600;
    // Most tokens or guests purged by one write, so that a sweep never holds the SQLite writer
    // long. Default: 100.
    std::int64_t sweep_batch = 100;
    // Who may register: "open" (anyone), "invite" (with an admin's invite code) or "closed"
    // (nobody; admins create accounts). Live. Default: "open".
    std::string registration = "open";
    // Whether POST /auth/guest creates guests. Existing guests keep working. Live. Default: true.
    bool guests = true;
    // Most uses one admin invite may have. Default: 10000.
    std::int64_t max_invite_uses = 10000;
};

struct admin_options {
    // Where online backups (POST /api/v1/admin/backup) are written, one new directory each.
    // Default: empty, meaning <data_dir>/backups.
    std::string backup_dir;
};

struct trace_options {
    // Messages whose path is kept in memory for GET /api/v1/admin/messages/{id}/trace;
    // 0 turns tracing off. Default: 10000.
    std::int64_t buffer_messages = 10000;
    std::int64_t sample_every = 100;
};

// Outgoing webhooks (issue 21, docs/integrations.md).
struct webhooks_options {
    // How long one message's delivery is retried (with backoff) before it is dropped and
    // counted as such. Live. Default: 3600.
    std::int64_t max_retry_s = 3600;
    // The first retry's delay; each next one doubles, up to retry_max_ms. Live. Default: 1000.
    std::int64_t retry_initial_ms = 1000;
    // The longest delay between two attempts. Live. Default: 60000.
    std::int64_t retry_max_ms = 60000;
    // Time allowed for one delivery (connect, TLS, request and response). Live. Default: 10000.
    std::int64_t timeout_ms = 10000;
    // Largest response body read from a receiver (then the connection is dropped). Live.
    // Default: 65536.
    std::int64_t max_response_bytes = 65536;
    // Private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) and link-local (169.254/16,
    // fe80::/10) addresses are refused unless this is set. Checked at registration and at every
    // delivery. Live. Default: false.
    bool allow_private = false;
    // Most webhooks registered at once. Live. Default: 100.
    std::int64_t max_webhooks = 100;
    // Most conversation ids one webhook may follow. Live. Default: 1000.
    std::int64_t max_conversation_ids = 1000;
};

// Web Push to browsers (issue 21; docs/integrations.md, "Web Push").
struct push_options {
    // Whether a push carries the message's first ~100 characters; false: only the
    // conversation and the sender's name. Live. Default: true.
    bool preview = true;
    // The VAPID `sub` claim: a mailto: or https: contact the push services may use to reach
    // the operator. Live. Default: "mailto:postmaster@localhost".
    std::string subject = "mailto:postmaster@localhost";
    // The TTL header: how long a push service keeps a push for an offline browser. Live.
    // Default: 86400.
    std::int64_t ttl_s = 86400;
    // Pushes waiting per endpoint (subscription); a push to a full queue is dropped and
    // counted. Live. Default: 16.
    std::int64_t queue_per_endpoint = 16;
    // How long one push is retried (with backoff) before it is dropped. Live. Default: 300.
    std::int64_t max_retry_s = 300;
    // The first retry's delay; each next one doubles, up to retry_max_ms. Live. Default: 1000.
    std::int64_t retry_initial_ms = 1000;
    // The longest delay between two attempts. Live. Default: 60000.
    std::int64_t retry_max_ms = 60000;
    // Time allowed for one request to a push service. Live. Default: 10000.
    std::int64_t timeout_ms = 10000;
    // Private and link-local endpoint addresses are refused unless this is set (as
    // webhooks.allow_private). Live. Default: false.
    bool allow_private = false;
    // Most subscriptions one user may hold (all sessions); more is 409. Live. Default: 20.
    std::int64_t max_subscriptions_per_user = 20;
    // Committed messages waiting for the push dispatcher (who gets a push is decided there);
    // past it a message gets no push, counted as dropped. Live. Default: 10000.
    std::int64_t max_pending = 10000;
};

struct log_options {
    // "trace", "debug", "info", "warn" or "error". Default: info.
    std::string level = "info";
    // "logfmt" or "json". Default: logfmt.
    std::string format = "logfmt";
};

struct config {
    server_options server;
    storage_options storage;
    limits_options limits;
    fanout_options fanout;
    search_options search;
    policy_options policy;
    auth_options auth;
    log_options log;
    admin_options admin;
    trace_options trace;
    files_options files;
    webhooks_options webhooks;
    push_options push;
};

// One key of the table: used for documentation, --print-config and reload decisions.
struct config_key_info {
    std::string path;           // "server.port"
    std::string env;            // "MONOCHAT_SERVER_PORT"
    std::string type;           // "integer", "number", "boolean", "string"
    std::string default_value;  // as JSON text
    bool live = false;          // takes effect on reload without a restart
    std::string doc;
};

// Environment as name -> value, so that tests need not touch the process environment.
using environment = std::map<std::string, std::string>;

// The process environment's MONOCHAT_* variables.
environment monochat_environment();

// Defaults, then the file's JSON text (may be empty; `//` and `/* */` comments allowed), then
// the environment, then validation. Errors name the key.
[[nodiscard]] result<config> parse_config(std::string_view json_text, const environment& env);

// Reads `path` (when given) and calls parse_config. A missing file is an error.
[[nodiscard]] result<config> load_config(const std::optional<std::string>& path,
                                         const environment& env);

// The effective configuration as pretty JSON (secrets are not redacted: there are none yet).
std::string to_json(const config& cfg);

std::vector<config_key_info> describe_config();

// Paths of keys whose values differ between `a` and `b` and that are not live: a reload that
// changes them is applied only after a restart.
std::vector<std::string> restart_required_changes(const config& a, const config& b);

// What a reload of `loaded` into a server running with `running` does: live keys take the new
// values, keys that need a restart keep the running ones (and are reported).
struct reload_plan {
    config next;                                // what to publish
    std::vector<std::string> applied;           // live keys whose value changes
    std::vector<std::string> restart_required;  // changed keys that are not applied
};
reload_plan plan_reload(const config& running, const config& loaded);

// Applies a JSON object of keys (`{"limits": {"send_rate": 5}}`, or flat
// `{"limits.send_rate": 5}`) on top of `base`, validated like a file. A key that is not live is
// refused: invalid_argument naming it; `base` is never modified.
[[nodiscard]] result<config> apply_live_patch(const config& base, std::string_view json_text);

// The live keys of `cfg` as a JSON object (`{"limits": {"send_rate": 20, ...}, ...}`).
std::string live_to_json(const config& cfg);

}  // namespace monochat::infra
