#pragma once
// The part of the message log both engines share: validation, the pending-append queue, the
// single group-commit writer thread (seq assignment, idempotency, target updates, the commit
// listener, completions), the committed `last_seq` of every conversation, and read planning.
// An engine (RocksDB, memory) supplies storage through the engine_* hooks and the reads.
//
// Writer algorithm, per group of at most max_batch appends taken from the queue (oldest first):
//  1. Look every (sender_id, client_msg_id) up in the engine's idempotency index at once.
//  2. Stage each append in order against a batch-local view: an earlier append of the same
//     group with the same key makes it a duplicate of that one (in-flight duplicates); an index
//     hit within the window makes it a duplicate of the stored message; otherwise it gets
//     `seq = last_seq + 1` of the batch-local view, and an operation reads its target (from
//     the batch first, so a message and its edit, or two reactions, may share a group), calls
//     update_target (or update_target_at with the seq it will get) and stages the target's new
//     state, plus the `rewrite` of the target and of every `related` message (all or none); a
//     reaction (or a clear) is applied to the target's summary and to the reaction index
//     through a batch-local overlay (reaction_index.hpp). A failed check fails that append
//     alone and stages nothing.
//  3. Write everything staged as ONE engine write (one RocksDB WriteBatch, one WAL sync).
//  4. Failure: every append that needed the write fails with unavailable and nothing is
//     published: the batch-local last_seq values are dropped, so no seq is consumed.
//     Success: publish the new last_seq values, let the engine update its cache, call the
//     commit listener with the new messages, then complete every append in arrival order.
//
// Engine hooks run on the writer thread only, one at a time, so an engine needs no locking
// between them; state they share with readers needs the engine's own locking.
// An engine's destructor must call close() first: the writer calls the engine's hooks.
//
// A drop (drop_conversation) is queued like an append. The writer commits the group gathered
// before it, then drops: engine_drop (one durable write), forget the head, remember the id so
// that later appends to it fail with not_found, then engine_reclaim (off the writer), whose
// completion completes the drop. An idempotency hit whose message is past its conversation's
// last_seq (dropped) is no hit.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/message_codec.hpp"
#include "storage/reaction_index.hpp"
#include "storage/write_queue.hpp"

namespace monochat::storage::detail {

// One queued append. The writer owns it once taken and deletes it after complete().
struct pending_append {
    virtual ~pending_append() = default;
    // Delivers the outcome; runs on the writer thread and must not throw.
    virtual void complete(result<append_result> outcome) noexcept = 0;

    pending_append* queue_next_ = nullptr;
    append_request request;
    // A drop_conversation of request.conversation_id instead of an append; completes with an
    // empty append_result.
    bool drop = false;
    std::chrono::steady_clock::time_point enqueued_at;
};

// What one group commit writes. Messages appear once each, in their final state.
struct commit_batch {
    // New messages in commit order (per conversation: ascending seq).
    std::vector<stored_message> new_messages;
    // Messages committed earlier whose `state` this batch changes.
    std::vector<stored_message> updated_targets;
    // Idempotency entries of the new messages, keyed by codec::idempotency_key.
    std::vector<std::pair<std::string, codec::idempotency_record>> idempotency;
    // New head of every conversation this batch appends to.
    std::vector<std::pair<std::string, codec::conversation_head>> conversations;
    // (conversation, seq) of messages rewritten for good (append_request::rewrite): the engine
    // removes their older versions from its files before its next checkpoint.
    std::vector<std::pair<std::string, std::uint64_t>> purged;
    // Changes of the reaction index, in order (a range erase may precede puts of its range).
    std::vector<index_op> reaction_ops;
    // Sent records of the new messages that asked for one (append_request::record_sent).
    std::vector<sent_record> sent;
    // Parallel to new_messages: each append's origin (for the commit listeners).
    std::vector<std::uint64_t> origins;

    bool empty() const { return new_messages.empty() && updated_targets.empty(); }
};

// The seqs a read returns: [first, last] (empty when first > last) and whether more exist
// beyond them in the read direction. Seqs are contiguous from 1 to last_seq, so a page is
// known before anything is read.
struct read_range {
    std::uint64_t first = 1;
    std::uint64_t last = 0;
    bool has_more = false;

    bool empty() const { return first > last; }
    std::size_t size() const { return empty() ? 0 : static_cast<std::size_t>(last - first + 1); }
};

// The engine also serves the reaction index (index_reader: thread-safe, used by the writer
// and by reads).
class group_commit_log : public message_log, public index_reader {
public:
    ~group_commit_log() override;

    boost::asio::awaitable<result<append_result>> append(append_request req) override;
    void append_async(append_request req, std::function<void(result<append_result>)> done) override;
    std::uint64_t last_seq(const std::string& conversation_id) const override;
    std::vector<std::pair<std::string, std::uint64_t>> conversations() const override;
    void add_commit_listener(std::function<void(const commit_event&)> listener) override;
    boost::asio::awaitable<status> drop_conversation(std::string conversation_id) override;
    void close() override;

protected:
    explicit group_commit_log(const message_log_options& options);

    // Starts the writer with the committed heads found by the engine at open.
    void start(std::unordered_map<std::string, codec::conversation_head> heads);

    // --- engine hooks, writer thread only ---
    // For each key (codec::idempotency_key), its entry or nullopt. Expiry is checked by the
    // caller; an error fails the whole group with it.
    virtual result<std::vector<std::optional<codec::idempotency_record>>> engine_find_idempotency(
        const std::vector<std::string>& keys) = 0;
    // A committed message, or nullopt when absent.
    virtual result<std::optional<stored_message>> engine_load(const std::string& conversation_id,
                                                              std::uint64_t seq) = 0;
    // Makes the batch durable (as durable as the engine gets) and atomic: all or nothing.
    virtual status engine_write(const commit_batch& batch) = 0;
    // After a successful write and the publication of last_seq, before the listener.
    virtual void engine_committed(const commit_batch& batch);
    // After the writer drained on close(), on the closing thread.
    virtual void engine_closed();
    // Removes every trace of a conversation in ONE durable write (drop_conversation); the
    // writer forgets its head after it succeeded.
    virtual status engine_drop(const std::string& conversation_id) = 0;
    // After a successful engine_drop: takes the dropped data out of the engine's files, off the
    // writer thread when that is slow, then calls `done` once, from any thread. Default: done at
    // once (nothing is on disk).
    virtual void engine_reclaim(const std::string& conversation_id,
                                std::function<void(status)> done);

    // Validates a read and computes its page from the committed last_seq. Errors:
    // invalid_argument (empty conversation id, limit 0).
    result<read_range> plan_after(const std::string& conversation_id, std::uint64_t after_seq,
                                  std::size_t limit) const;
    result<read_range> plan_before(const std::string& conversation_id, std::uint64_t before_seq,
                                   std::size_t limit) const;
    result<read_range> plan_latest(const std::string& conversation_id, std::size_t limit) const;

    // The reaction reads of message_log, synchronous: engines call them inline (memory) or on
    // their read pool (RocksDB).
    result<reaction_users_page> read_reaction_users(const std::string& conversation_id,
                                                    std::uint64_t seq, const std::string& emoji,
                                                    std::uint64_t after_user_id,
                                                    std::size_t limit);
    result<std::vector<bool>> read_has_reacted(
        const std::string& conversation_id, std::uint64_t user_id,
        const std::vector<std::pair<std::uint64_t, std::string>>& keys);

    const message_log_options& options() const { return options_; }
    const infra::clock& clock() const { return *clock_; }
    infra::metrics_registry& metrics() { return *metrics_; }

private:
    struct staged;
    template <class Handler>
    struct awaitable_append;
    struct callback_append;

    // Queues `node` or completes it at once with unavailable (closed, queue full).
    void enqueue(std::unique_ptr<pending_append> node);
    void writer_loop();
    void commit_group(std::vector<pending_append*>& group);
    void drop(pending_append* node);
    void finish(pending_append* node, result<append_result> outcome);
    // A committed message as the writer sees it: staged in this batch first, then the engine.
    result<std::optional<stored_message>> load_for_writer(
        const std::string& conversation_id, std::uint64_t seq,
        const std::unordered_map<std::string, stored_message>& touched);
    std::uint64_t committed_last_seq_for_writer(const std::string& conversation_id) const;

    message_log_options options_;
    std::unique_ptr<infra::clock> own_clock_;
    std::unique_ptr<infra::metrics_registry> own_metrics_;
    const infra::clock* clock_ = nullptr;
    infra::metrics_registry* metrics_ = nullptr;

    write_queue<pending_append> queue_;
    std::atomic<std::size_t> pending_{0};
    std::thread writer_;
    std::once_flag close_once_;

    // Committed heads. Written by the writer only (under the exclusive lock), read by anyone.
    mutable std::shared_mutex heads_mutex_;
    std::unordered_map<std::string, codec::conversation_head> heads_;
    // Writer thread only: conversations dropped in this run; appends to them are not_found.
    std::unordered_set<std::string> dropped_;

    using listener_list = std::vector<std::function<void(const commit_event&)>>;
    std::mutex listener_mutex_;
    std::shared_ptr<const listener_list> listeners_ = std::make_shared<const listener_list>();

    infra::counter& appends_total_;
    infra::counter& duplicates_total_;
    infra::counter& failures_total_;
    infra::counter& write_errors_total_;
    infra::histogram& batch_size_;
    infra::histogram& latency_;
    infra::gauge& queue_depth_;

    // Writer thread only: rate limit of the write-failure log line.
    std::chrono::steady_clock::time_point last_write_error_log_{};
    std::uint64_t unlogged_write_errors_ = 0;
};

}  // namespace monochat::storage::detail
