#pragma once
// The search indexer (shared/architecture.md, send path): keeps the search index
// (storage/search_index.hpp) in step with the message log, off the send path. The log hands it
// each group commit's messages at once (a commit listener: one lock and one wake per commit,
// no per-message event); whatever is queued when the indexer gets to it, up to `max_batch`
// messages, is written in ONE transaction together with each conversation's new position.
//
// What it indexes: the text of `text` messages; an `edit` replaces its target's indexed text,
// a `recall` removes the target; every other message only moves the position.
//
// Nothing missed, nothing twice. The queue is in memory: whatever was persisted but not yet
// indexed when the process died exists only in the log. So the index's positions are the
// truth: at start the indexer reads, from the log, every conversation whose last_seq is past
// its position; a live event at or below the position is skipped; an event past position + 1
// (a gap: an event lost to a full queue, or the catch-up still running) has the missing range
// read from the log first. A conversation whose position is past the log's last_seq (a log
// restored from an older backup) is forgotten and indexed again.
//
// Threads: one indexer thread of its own (all index writes and log reads happen there); the
// commit listener only queues. The queue is bounded (`queue_capacity`): beyond it an event is
// dropped and its conversation marked behind, to be read from the log instead, so memory stays
// bounded and nothing is lost. start() and stop() are for the composition root.
//
// Metrics: monochat_search_indexed_total (messages taken in), monochat_search_index_lag_seconds
// (age of the oldest message not yet indexed; 0 when caught up), monochat_search_batch_size
// (histogram of messages per transaction), monochat_search_index_errors_total,
// monochat_search_indexer_cpu_microseconds_total (the indexer thread's CPU time),
// monochat_queue_depth{queue="search_indexer"}.

#include <chrono>
#include <cstddef>
#include <memory>
#include <monochat/infra/result.hpp>

namespace monochat::storage {
class message_log;
class search_index;
}  // namespace monochat::storage
namespace monochat::infra {
class clock;
class metrics_registry;
}  // namespace monochat::infra

namespace monochat::task {

struct search_indexer_options {
    // Most messages written by one transaction (search.max_batch). Default: 1024.
    std::size_t max_batch = 1024;
    // After the first message of a batch arrives, how long the indexer waits for more before
    // writing (search.batch_delay_ms). Under load batches fill up without any delay (messages
    // queue while the previous batch commits); a delay trades search freshness for fewer
    // transactions at low rates. Tests set it high so that a kill -9 lands before indexing.
    // Default: 0.
    std::chrono::milliseconds batch_delay{0};
    // Events queued for the indexer at most; see the header comment. Default: 65536.
    std::size_t queue_capacity = 65536;
    // Wait after a failed transaction before trying again (from the log). Default: 1 s.
    std::chrono::milliseconds retry_delay{1000};
};

class search_indexer {
public:
    // `log`, `index`, `clock` and `metrics` must outlive the indexer.
    search_indexer(storage::message_log& log, storage::search_index& index,
                   const infra::clock& clock, infra::metrics_registry& metrics,
                   search_indexer_options options = {});
    // Stops (see stop()).
    ~search_indexer();
    search_indexer(const search_indexer&) = delete;
    search_indexer& operator=(const search_indexer&) = delete;

    // Reads the index's positions, listens to the log's commits and starts the indexer thread,
    // which catches up from the log first. Errors: those of the index.
    [[nodiscard]] status start();

    // Stops listening, writes what is queued (not the catch-up still to do: the next start does
    // it), and joins the thread. Idempotent.
    void stop();

    // A conversation gone for good (a deleted group), to be called once the log has dropped
    // it: its entries and position leave the index in a transaction of their own on the
    // indexer thread, after every batch taken before, and whatever of it is still queued or
    // behind is skipped from now on. Returns at once; a failed transaction is retried.
    void forget(const std::string& conversation_id);

    // True when nothing is queued or behind and every conversation of the log is indexed up to
    // its last_seq (tests, tools).
    bool caught_up() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace monochat::task
