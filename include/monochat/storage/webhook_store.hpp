#pragma once
// Outgoing webhooks' durable state (issue 21, docs/integrations.md): the registrations, one
// delivery cursor per webhook and conversation, the seq of the last message the webhook is done
// with (delivered or dropped), and one cursor per webhook in the social store's group event
// journal. Nothing else: pending deliveries are the messages past a cursor, read again from the
// message log by seq, and the journal rows past the journal cursor, so the log and the journal
// stay the only copies.
//
// A SQLite file of its own (`<data_dir>/webhooks.db`, like the search index's), so that cursor
// writes never queue behind the social store's writer. Writes are group-committed on the
// store's writer thread; reads are few (start-up, admin calls) and run there too.
//
// Thread-safety: every member may be called from any thread. Awaitables resume on the awaiting
// coroutine's executor. Errors: as listed, and unavailable (disk, store closing).

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <monochat/infra/result.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace monochat::infra {
class metrics_registry;
}

namespace monochat::storage {

struct webhook_record {
    std::uint64_t id = 0;  // 1..2^63-1, from the caller
    std::string url;
    // The HMAC key of the signatures (the store keeps it: the server must sign with it).
    std::string secret;
    std::vector<std::string> events;
    // The conversations it follows; nullopt: every conversation.
    std::optional<std::vector<std::string>> conversation_ids;
    std::int64_t created_ms = 0;
    // The id of the last group event journal row (group_store::read_group_journal) the
    // webhook is done with: its membership events resume past it.
    std::uint64_t journal_cursor = 0;
};

// (conversation id, seq): a webhook's cursor in one conversation.
using webhook_cursor = std::pair<std::string, std::uint64_t>;

class webhook_store {
public:
    webhook_store() = default;
    virtual ~webhook_store() = default;
    webhook_store(const webhook_store&) = delete;
    webhook_store& operator=(const webhook_store&) = delete;

    template <class T>
    using task = boost::asio::awaitable<result<T>>;

    // One transaction: the webhook and its starting cursors. Errors: conflict (the id exists),
    // invalid_argument (id out of range; an event or conversation id holding a line feed).
    virtual task<void> create(webhook_record webhook, std::vector<webhook_cursor> cursors) = 0;
    // Every webhook, ascending id.
    virtual task<std::vector<webhook_record>> list() = 0;
    // The webhook and its cursors go. Errors: not_found.
    virtual task<void> remove(std::uint64_t id) = 0;
    // The webhook's cursors, ascending conversation id.
    virtual task<std::vector<webhook_cursor>> cursors(std::uint64_t id) = 0;
    // Moves the cursor forward to `seq` (never back). A webhook that is gone is not an error:
    // nothing is written.
    virtual task<void> advance(std::uint64_t id, std::string conversation_id,
                               std::uint64_t seq) = 0;
    // A conversation gone for good (a deleted group): every webhook's cursor in it goes.
    virtual task<void> forget_conversation(std::string conversation_id) = 0;
    // Moves the webhook's journal cursor forward to `journal_id` (never back). A webhook that
    // is gone is not an error: nothing is written.
    virtual task<void> advance_journal(std::uint64_t id, std::uint64_t journal_id) = 0;
    // A consistent copy of the store into the file `path` (which must not exist), taken on the
    // writer thread between two write batches (SQLite's online backup). Errors: unavailable.
    virtual task<void> backup_to(std::string path) = 0;
};

struct sqlite_webhook_store_options {
    std::string path;
    // synchronous=FULL (storage.sync = always) or NORMAL. Default: true.
    bool synchronous_full = true;
};

// Opens (creating and migrating as needed) the store. Errors: invalid_argument (no path),
// unavailable (cannot open the file), internal (a newer schema).
[[nodiscard]] result<std::unique_ptr<webhook_store>> open_sqlite_webhook_store(
    const sqlite_webhook_store_options& options, infra::metrics_registry& metrics);

}  // namespace monochat::storage
