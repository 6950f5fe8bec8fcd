#include "storage/sqlite_migrations.hpp"

#include <fmt/format.h>

#include <array>

namespace monochat::storage::sqlite {

namespace {

// Conventions: ids are INTEGER (snowflakes below 2^63); times are INTEGER milliseconds since
// the Unix epoch; enums are TEXT in their wire spelling with a CHECK, so that the file reads
// well in the sqlite3 shell and a backup needs no code to interpret. Child tables keyed by a
// pair are WITHOUT ROWID: the primary key is the only index they need.
constexpr const char* v1_accounts_and_groups = R"sql(
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL,
    display_name  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    guest         INTEGER NOT NULL CHECK (guest IN (0, 1)),
    created_ms    INTEGER NOT NULL
);
-- Usernames are unique among registered users only: guests are named by the server and are
-- never looked up or searched by name. Login and prefix search use this partial index.
CREATE UNIQUE INDEX users_username ON users (username) WHERE guest = 0;

CREATE TABLE tokens (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens (user_id);
CREATE INDEX tokens_expiry ON tokens (expires_ms);

CREATE TABLE friend_requests (
    id           INTEGER PRIMARY KEY,
    from_user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    note         TEXT    NOT NULL DEFAULT '',
    status       TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    CHECK (from_user_id <> to_user_id)
);
-- At most one pending request per direction. The store checks first and answers conflict;
-- the index makes a bug a constraint error instead of a duplicate.
CREATE UNIQUE INDEX friend_requests_pending_out
    ON friend_requests (from_user_id, to_user_id) WHERE status = 'pending';
CREATE INDEX friend_requests_pending_in
    ON friend_requests (to_user_id) WHERE status = 'pending';

-- A friendship is stored both ways, so listing a user's friends is one range of the key.
CREATE TABLE friendships (
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since_ms  INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id)
) WITHOUT ROWID;

-- "groups" is an SQL keyword (window frames), hence chat_groups.
CREATE TABLE chat_groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    owner_id   INTEGER NOT NULL REFERENCES users (id),
    public     INTEGER NOT NULL CHECK (public IN (0, 1)),
    created_ms INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id  INTEGER NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members (user_id);
)sql";

// Conversation state, and a member count kept with the group: counting a 100000-member group's
// index on every message's fan-out decision and every group answer costs milliseconds.
constexpr const char* v2_conversation_state = R"sql(
ALTER TABLE chat_groups ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE chat_groups
   SET member_count = (SELECT count(*) FROM group_members m WHERE m.group_id = chat_groups.id);

CREATE TABLE read_state (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL,
    read_seq        INTEGER NOT NULL CHECK (read_seq >= 0),
    updated_ms      INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
-- Read receipts: who in a conversation has read at or past a seq.
CREATE INDEX read_state_conversation ON read_state (conversation_id, read_seq);

-- One row per user and peer, written when the direct conversation gets a message.
CREATE TABLE direct_conversations (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    peer_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL,
    last_message_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, peer_id)
) WITHOUT ROWID;
CREATE INDEX direct_conversations_recent ON direct_conversations (user_id, last_message_ms);
)sql";

// Mentions a user has not read yet: a row per (user, conversation, seq), deleted once the
// user's read position passes it, so the table holds only unread mentions and the
// conversation list counts them with one range of the key per user.
constexpr const char* v3_mentions = R"sql(
CREATE TABLE mentions (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL,
    seq             INTEGER NOT NULL CHECK (seq > 0),
    PRIMARY KEY (user_id, conversation_id, seq)
) WITHOUT ROWID;
-- A recall removes the mentions of its target.
CREATE INDEX mentions_message ON mentions (conversation_id, seq);
)sql";

// Admin suspension (issue 11): a suspended user's tokens are deleted and logins refused.
constexpr const char* v4_user_suspension = R"sql(
ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0 CHECK (suspended IN (0, 1));
)sql";

// Guest expiry: when each user was last seen (creation, an authenticated request), so that idle
// guests can be purged, and the ids of purged users, whose messages stay and whose profile
// answers "Deleted user". Users that exist at the upgrade count as seen at the upgrade.
constexpr const char* v5_guest_expiry = R"sql(
ALTER TABLE users ADD COLUMN last_seen_ms INTEGER NOT NULL DEFAULT 0;
UPDATE users SET last_seen_ms = max(created_ms,
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
CREATE INDEX users_idle_guests ON users (last_seen_ms) WHERE guest = 1;
CREATE TABLE deleted_users (
    id         INTEGER PRIMARY KEY,
    deleted_ms INTEGER NOT NULL
);
-- Deleting a user makes SQLite look up every row referencing it. These columns had no index
-- leading with them, so each deletion scanned the whole table; the sweep deletes many users.
CREATE INDEX friendships_friend ON friendships (friend_id);
CREATE INDEX friend_requests_from ON friend_requests (from_user_id);
CREATE INDEX friend_requests_to ON friend_requests (to_user_id);
CREATE INDEX chat_groups_owner ON chat_groups (owner_id);
CREATE INDEX direct_conversations_peer ON direct_conversations (peer_id);
)sql";

// Issue 19: a user's mute of a conversation, stored so that every device of the user agrees; and
// a partial index for the public-group directory (private groups are never listed).
constexpr const char* v6_conversation_settings = R"sql(
CREATE TABLE conversation_settings (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conversation_id TEXT    NOT NULL,
    muted_until_ms  INTEGER NOT NULL CHECK (muted_until_ms > 0),
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX chat_groups_public ON chat_groups (id) WHERE public = 1;
)sql";

// Issue 18: accounts and sessions. A token is a session the user can list and revoke: its own
// id, when it was last used and the client that made it (existing tokens get a random id).
// A self-deleted user keeps its username in deleted_users, so the name is never given out
// again. Password reset tokens (hashes only) work once, until they expire. Registration invites
// (auth.registration = invite) are listed to admins, so their codes are stored as they are;
// expires_ms 0 is "never". A block is one user's of another (user_id blocks blocked_id). Groups
// gain a description.
constexpr const char* v7_sessions_and_resets = R"sql(
ALTER TABLE tokens ADD COLUMN session_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
UPDATE tokens SET session_id = (random() & 9007199254740991) + 1, last_used_ms = created_ms;
ALTER TABLE deleted_users ADD COLUMN username TEXT;
CREATE UNIQUE INDEX deleted_users_username ON deleted_users (username) WHERE username IS NOT NULL;
CREATE TABLE password_resets (
    token_hash BLOB    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX password_resets_user ON password_resets (user_id);
CREATE TABLE invites (
    code       TEXT    PRIMARY KEY,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_ms INTEGER NOT NULL,
    created_by INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE blocks (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_blocked ON blocks (blocked_id);
ALTER TABLE chat_groups ADD COLUMN description TEXT NOT NULL DEFAULT '';
)sql";

// Issue 18, moderation: mutes in world (until_ms 0: until lifted), read into memory at start.
constexpr const char* v8_moderation = R"sql(
CREATE TABLE world_mutes (
    user_id  INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    until_ms INTEGER NOT NULL CHECK (until_ms >= 0)
);
)sql";

// Issue 21: bot accounts. A bot is a registered (non-guest) user without a password that
// authenticates with the long-lived tokens an admin issues for it (stored in tokens, hashed).
constexpr const char* v9_bots = R"sql(
ALTER TABLE users ADD COLUMN bot INTEGER NOT NULL DEFAULT 0 CHECK (bot IN (0, 1));
)sql";

// Issue 18, group moderation: a member's mute in a group (until_ms 0: until lifted), read into
// memory at start for the send path. It outlives leaving the group (a rejoin does not lift it)
// and goes with the group or the user. A ban keeps a user out of a group until lifted; adding
// and joining check it in the same transaction. Invite links of a group (expires_ms always
// set: a link expires) go with the group.
constexpr const char* v10_group_moderation = R"sql(
CREATE TABLE group_mutes (
    group_id INTEGER NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until_ms INTEGER NOT NULL CHECK (until_ms >= 0),
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_mutes_user ON group_mutes (user_id);
CREATE TABLE group_bans (
    group_id   INTEGER NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by  INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_bans_user ON group_bans (user_id);
CREATE TABLE group_invites (
    code       TEXT    PRIMARY KEY,
    group_id   INTEGER NOT NULL REFERENCES chat_groups (id) ON DELETE CASCADE,
    uses_left  INTEGER NOT NULL CHECK (uses_left >= 0),
    expires_ms INTEGER NOT NULL,
    created_by INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX group_invites_group ON group_invites (group_id, created_ms);
)sql";


// Issue 21: Web Push subscriptions. Each belongs to the session (token) that registered it and
// goes with it: every way a token is deleted (logout, revocation, a password change, expiry,
// the user's deletion) deletes its subscriptions through the foreign key.
constexpr const char* v11_push_subscriptions = R"sql(
CREATE TABLE push_subscriptions (
    endpoint   TEXT    PRIMARY KEY,
    token_hash BLOB    NOT NULL REFERENCES tokens (token_hash) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    p256dh     BLOB    NOT NULL,
    auth       BLOB    NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX push_subscriptions_token ON push_subscriptions (token_hash);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
)sql";

// Issue 20: a user's profile picture, a file of the file store (files.db); the index answers
// "is this file someone's avatar" for downloads and the unshared-file sweep.
constexpr const char* v12_avatars = R"sql(
ALTER TABLE users ADD COLUMN avatar_file_id INTEGER;
CREATE INDEX users_avatar ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;
)sql";

// Issue 18: deleting a group. A tombstone per deleted group until everything outside this file
// (message log, search index, files, webhooks) has let go of its conversation, so that a crash
// in between is finished at the next start; settings are deleted by conversation then.
constexpr const char* v13_deleted_groups = R"sql(
CREATE TABLE deleted_groups (
    group_id   INTEGER PRIMARY KEY,
    deleted_ms INTEGER NOT NULL
);
CREATE INDEX conversation_settings_conversation ON conversation_settings (conversation_id);
)sql";

// Issue 21, outgoing webhooks: the group event journal, one row per membership or group change,
// written in the change's own transaction (the durable record that webhooks' member_joined,
// member_left and group_updated deliveries are re-read from). AUTOINCREMENT: an id is never
// given twice, even after every row was pruned, because webhook cursors point at ids.
// after_seq is the group conversation's last_seq at the change; detail the event's own
// fields as a JSON object.
constexpr const char* v14_group_journal = R"sql(
CREATE TABLE group_journal (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms     INTEGER NOT NULL,
    event     TEXT    NOT NULL,
    group_id  INTEGER NOT NULL,
    after_seq INTEGER NOT NULL CHECK (after_seq >= 0),
    detail    TEXT    NOT NULL
);
)sql";

constexpr std::array<migration, 14> all_migrations{{
    {1, "accounts, friends and groups", v1_accounts_and_groups},
    {2, "read state, direct conversations, group member count", v2_conversation_state},
    {3, "unread mentions", v3_mentions},
    {4, "user suspension", v4_user_suspension},
    {5, "guest expiry", v5_guest_expiry},
    {6, "conversation settings, public group directory", v6_conversation_settings},
    {7, "sessions, reserved usernames, password resets, invites, blocks, group descriptions", v7_sessions_and_resets},
    {8, "moderation", v8_moderation},
    {9, "bot accounts", v9_bots},
    {10, "group moderation", v10_group_moderation},
    {11, "web push subscriptions", v11_push_subscriptions},
    {12, "avatars", v12_avatars},
    {13, "deleted groups", v13_deleted_groups},
    {14, "group event journal", v14_group_journal},
}};

result<bool> table_exists(connection& conn, std::string_view name) {
    auto stmt = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    if (!stmt) {
        return stmt.error();
    }
    if (auto st = stmt->bind(name); !st) {
        return st.error();
    }
    return stmt->step();
}

status apply(connection& conn, const migration& m) {
    auto tx = transaction::begin(conn, true);
    if (!tx) {
        return tx.error();
    }
    if (auto st = conn.exec(m.sql); !st) {
        return monochat::make_error(
            st.error().code,
            fmt::format("migration {} ({}): {}", m.version, m.description, st.error().message));
    }
    if (auto st = execute(conn, "UPDATE schema_version SET version = ?1", m.version); !st) {
        return st.error();
    }
    return tx->commit();
}

}  // namespace

std::span<const migration> social_migrations() { return all_migrations; }

result<int> schema_version(connection& conn) {
    auto exists = table_exists(conn, "schema_version");
    if (!exists) {
        return exists.error();
    }
    if (!*exists) {
        auto any = query_one(conn, "SELECT 1 FROM sqlite_master WHERE type = 'table'",
                             [](const statement&) { return true; });
        if (!any) {
            return any.error();
        }
        if (*any) {
            return monochat::make_error(
                errc::internal,
                fmt::format("{}: has tables but no schema_version: not a monochat database",
                            conn.path()));
        }
        return 0;
    }
    auto version = query_one(conn, "SELECT version FROM schema_version", [](const statement& row) {
        return static_cast<int>(row.column_int64(0));
    });
    if (!version) {
        return version.error();
    }
    if (!*version) {
        return monochat::make_error(errc::internal,
                                    fmt::format("{}: schema_version has no row", conn.path()));
    }
    return **version;
}

result<int> migrate(connection& conn, std::span<const migration> migrations,
                    std::optional<int> target) {
    const int known = migrations.empty() ? 0 : migrations.back().version;
    const int goal = target.value_or(known);

    // The version table is created in its own transaction, taken IMMEDIATE so that two
    // processes opening a new file at once do not both create it.
    int found = 0;
    {
        auto tx = transaction::begin(conn, true);
        if (!tx) {
            return tx.error();
        }
        auto version = schema_version(conn);
        if (!version) {
            return version.error();
        }
        found = *version;
        auto exists = table_exists(conn, "schema_version");
        if (!exists) {
            return exists.error();
        }
        if (!*exists) {
            if (auto st = conn.exec("CREATE TABLE schema_version ("
                                    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
                                    "  version INTEGER NOT NULL);"
                                    "INSERT INTO schema_version (id, version) VALUES (1, 0);");
                !st) {
                return st.error();
            }
        }
        if (auto st = tx->commit(); !st) {
            return st.error();
        }
    }
    if (found > known) {
        return monochat::make_error(
            errc::internal,
            fmt::format("{}: schema version {} is newer than this build knows ({}); "
                        "use a newer monochat or restore a backup",
                        conn.path(), found, known));
    }
    for (const migration& m : migrations) {
        if (m.version <= found || m.version > goal) {
            continue;
        }
        if (auto st = apply(conn, m); !st) {
            return st.error();
        }
    }
    return found;
}

}  // namespace monochat::storage::sqlite
