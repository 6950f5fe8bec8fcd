#include "storage/group_commit_log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <limits>
#include <monochat/infra/log.hpp>
#include <monochat/infra/thread_name.hpp>
#include <unordered_set>

namespace monochat::storage::detail {

namespace net = boost::asio;

namespace {

constexpr std::string_view log_module = "storage";
// Conversation ids are short protocol strings ("group:42"); the bound keeps keys small and a
// NUL would make message keys ambiguous.
constexpr std::size_t max_conversation_id_bytes = 1024;

std::vector<double> batch_buckets() {
    std::vector<double> b;
    for (double v = 1; v <= 65536; v *= 2) {
        b.push_back(v);
    }
    return b;
}

std::optional<error> validate(const append_request& req) {
    if (req.conversation_id.empty()) {
        return make_error(errc::invalid_argument, "conversation_id is empty");
    }
    if (req.conversation_id.size() > max_conversation_id_bytes ||
        req.conversation_id.find('\0') != std::string::npos) {
        return make_error(errc::invalid_argument, "conversation_id is not a valid id");
    }
    if (req.client_msg_id.empty()) {
        return make_error(errc::invalid_argument, "client_msg_id is empty");
    }
    if ((req.update_target || req.update_target_at || req.reaction || req.clear_reactions) &&
        req.target_seq == 0) {
        return make_error(errc::invalid_argument, "an operation on a target without a target_seq");
    }
    if (req.reaction &&
        (req.reaction->emoji.empty() || req.reaction->emoji.size() > max_index_emoji_bytes)) {
        return make_error(errc::invalid_argument, "a reaction's emoji must be 1 to 255 bytes");
    }
    if (req.update_target && req.update_target_at) {
        return make_error(errc::invalid_argument, "update_target and update_target_at both set");
    }
    if ((req.related || req.rewrite) && !req.update_target && !req.update_target_at) {
        return make_error(errc::invalid_argument, "related or rewrite without update_target");
    }
    return std::nullopt;
}

std::optional<error> validate_read(const std::string& conversation_id, std::size_t limit) {
    if (conversation_id.empty()) {
        return make_error(errc::invalid_argument, "conversation_id is empty");
    }
    if (limit == 0) {
        return make_error(errc::invalid_argument, "limit must be at least 1");
    }
    return std::nullopt;
}

}  // namespace

// The outcome of one append while its group is being staged.
struct group_commit_log::staged {
    enum class kind {
        fresh,         // a new message: key `message_key`, the batch's new message `position`
        in_batch_dup,  // same idempotency key as the fresh append `original` of this group
        stored_dup,    // idempotency hit on a committed message: `message`
        failed,        // `failure`
    };
    kind what = kind::failed;
    std::string message_key;
    std::size_t original = 0;
    std::size_t position = 0;
    stored_message message;
    error failure;
};

template <class Handler>
struct group_commit_log::awaitable_append final : pending_append {
    explicit awaitable_append(Handler&& h)
        : handler(std::move(h)),
          // Keeps the awaiting coroutine's execution context alive while the append waits.
          work(net::prefer(net::get_associated_executor(handler),
                           net::execution::outstanding_work.tracked)) {}

    // Posted, never run inline: an immediate failure completes inside the initiation, where
    // the coroutine must not be resumed re-entrantly.
    void complete(result<append_result> outcome) noexcept override {
        net::post(work, [h = std::move(handler), r = std::move(outcome)]() mutable {
            std::move(h)(std::move(r));
        });
    }

    Handler handler;
    std::decay_t<decltype(net::prefer(std::declval<net::associated_executor_t<Handler>>(),
                                      net::execution::outstanding_work.tracked))>
        work;
};

struct group_commit_log::callback_append final : pending_append {
    explicit callback_append(std::function<void(result<append_result>)> d) : done(std::move(d)) {}

    void complete(result<append_result> outcome) noexcept override {
        try {
            done(std::move(outcome));
        } catch (const std::exception& e) {
            infra::log::error(log_module, "append callback threw", {{"error", e.what()}});
        } catch (...) {
            infra::log::error(log_module, "append callback threw");
        }
    }

    std::function<void(result<append_result>)> done;
};

group_commit_log::group_commit_log(const message_log_options& options)
    : options_(options),
      own_clock_(options.clock ? nullptr : std::make_unique<infra::system_clock>()),
      own_metrics_(options.metrics ? nullptr : std::make_unique<infra::metrics_registry>()),
      clock_(options.clock ? options.clock : own_clock_.get()),
      metrics_(options.metrics ? options.metrics : own_metrics_.get()),
      appends_total_(metrics_->get_counter("monochat_storage_appends_total",
                                           "Messages appended to the message log.")),
      duplicates_total_(metrics_->get_counter(
          "monochat_storage_append_duplicates_total",
          "Appends answered from the idempotency index (retries), nothing written.")),
      failures_total_(metrics_->get_counter("monochat_storage_append_failures_total",
                                            "Appends that failed (any error).")),
      write_errors_total_(metrics_->get_counter(
          "monochat_storage_write_errors_total",
          "Group commits whose write failed; each failed all of its appends.")),
      batch_size_(metrics_->get_histogram("monochat_storage_group_commit_size",
                                          "Appends per group commit.", batch_buckets())),
      latency_(metrics_->get_histogram("monochat_storage_append_latency_seconds",
                                       "Time from append to its completion.",
                                       infra::latency_buckets())),
      queue_depth_(metrics_->get_gauge("monochat_queue_depth", "Items waiting in a queue.",
                                       {{"queue", "storage_append"}})) {
    options_.max_batch = std::max<std::size_t>(options_.max_batch, 1);
    options_.max_pending = std::max<std::size_t>(options_.max_pending, 1);
    options_.max_read_limit = std::max<std::size_t>(options_.max_read_limit, 1);
}

group_commit_log::~group_commit_log() {
    // Engines close first (they own what the writer uses); this catches a forgotten call.
    close();
}

void group_commit_log::start(std::unordered_map<std::string, codec::conversation_head> heads) {
    {
        std::unique_lock lock(heads_mutex_);
        heads_ = std::move(heads);
    }
    writer_ = std::thread([this] {
        infra::name_this_thread("mc-log-writer");
        writer_loop();
    });
}

void group_commit_log::close() {
    std::call_once(close_once_, [this] {
        queue_.close();
        if (writer_.joinable()) {
            writer_.join();
        }
        engine_closed();
    });
}

void group_commit_log::engine_committed(const commit_batch&) {}
void group_commit_log::engine_closed() {}
void group_commit_log::engine_reclaim(const std::string&, std::function<void(status)> done) {
    done(status{});
}

net::awaitable<status> group_commit_log::drop_conversation(std::string conversation_id) {
    if (conversation_id.empty() || conversation_id.size() > max_conversation_id_bytes ||
        conversation_id.find('\0') != std::string::npos) {
        co_return make_error(errc::invalid_argument, "conversation_id is not a valid id");
    }
    auto outcome = co_await net::async_initiate<const net::use_awaitable_t<>&,
                                                void(result<append_result>)>(
        [this](auto handler, std::string cid) {
            using handler_type = decltype(handler);
            auto node = std::make_unique<awaitable_append<handler_type>>(std::move(handler));
            node->request.conversation_id = std::move(cid);
            node->drop = true;
            enqueue(std::move(node));
        },
        net::use_awaitable, std::move(conversation_id));
    if (!outcome) {
        co_return outcome.error();
    }
    co_return status{};
}

void group_commit_log::drop(pending_append* node) {
    const std::string conversation_id = node->request.conversation_id;
    if (auto st = engine_drop(conversation_id); !st) {
        write_errors_total_.inc();
        infra::log::warn(log_module, "conversation drop failed",
                         {{"conversation", conversation_id}, {"error", st.error().message}});
        finish(node, make_error(errc::unavailable,
                                fmt::format("message log drop failed: {}", st.error().message)));
        return;
    }
    {
        std::unique_lock lock(heads_mutex_);
        heads_.erase(conversation_id);
    }
    dropped_.insert(conversation_id);
    infra::log::info(log_module, "conversation dropped", {{"conversation", conversation_id}});
    engine_reclaim(conversation_id, [this, node](status reclaimed) {
        if (reclaimed) {
            finish(node, append_result{});
        } else {
            finish(node, reclaimed.error());
        }
    });
}

net::awaitable<result<append_result>> group_commit_log::append(append_request req) {
    if (auto err = validate(req)) {
        failures_total_.inc();
        co_return std::move(*err);
    }
    co_return co_await net::async_initiate<const net::use_awaitable_t<>&,
                                           void(result<append_result>)>(
        [this](auto handler, append_request r) {
            using handler_type = decltype(handler);
            auto node = std::make_unique<awaitable_append<handler_type>>(std::move(handler));
            node->request = std::move(r);
            enqueue(std::move(node));
        },
        net::use_awaitable, std::move(req));
}

void group_commit_log::append_async(append_request req,
                                    std::function<void(result<append_result>)> done) {
    if (auto err = validate(req)) {
        failures_total_.inc();
        done(std::move(*err));
        return;
    }
    auto node = std::make_unique<callback_append>(std::move(done));
    node->request = std::move(req);
    enqueue(std::move(node));
}

void group_commit_log::enqueue(std::unique_ptr<pending_append> node) {
    node->enqueued_at = clock_->steady_now();
    // Reserve a slot first so that the bound holds under concurrent producers.
    if (pending_.fetch_add(1, std::memory_order_relaxed) >= options_.max_pending) {
        pending_.fetch_sub(1, std::memory_order_relaxed);
        failures_total_.inc();
        node->complete(make_error(errc::unavailable, "message log: append queue is full"));
        return;
    }
    // Counted before the push: once pushed, the writer may complete (and count out) the node
    // before this thread runs another line.
    queue_depth_.inc();
    if (!queue_.push(node.get())) {
        queue_depth_.dec();
        pending_.fetch_sub(1, std::memory_order_relaxed);
        failures_total_.inc();
        node->complete(make_error(errc::unavailable, "message log is closed"));
        return;
    }
    // The writer owns the node now and deletes it after completing it.
    (void)node.release();
}

void group_commit_log::writer_loop() {
    std::vector<pending_append*> group;
    group.reserve(options_.max_batch);
    for (;;) {
        const auto taken = queue_.take();
        for (pending_append* node = taken.oldest; node != nullptr;) {
            // commit_group deletes the nodes of the group: read the link first.
            pending_append* newer = node->queue_next_;
            if (node->drop) {
                // Appends queued before the drop commit first and are dropped with it.
                if (!group.empty()) {
                    commit_group(group);
                    group.clear();
                }
                drop(node);
                node = newer;
                continue;
            }
            group.push_back(node);
            if (group.size() == options_.max_batch) {
                commit_group(group);
                group.clear();
            }
            node = newer;
        }
        if (!group.empty()) {
            commit_group(group);
            group.clear();
        }
        if (taken.oldest == nullptr && taken.closed) {
            return;
        }
    }
}

std::uint64_t group_commit_log::committed_last_seq_for_writer(
    const std::string& conversation_id) const {
    // The writer is the only thread that modifies heads_, so it may read without the lock.
    const auto it = heads_.find(conversation_id);
    return it == heads_.end() ? 0 : it->second.last_seq;
}

result<std::optional<stored_message>> group_commit_log::load_for_writer(
    const std::string& conversation_id, std::uint64_t seq,
    const std::unordered_map<std::string, stored_message>& touched) {
    if (const auto it = touched.find(codec::message_key(conversation_id, seq));
        it != touched.end()) {
        return std::optional<stored_message>(it->second);
    }
    return engine_load(conversation_id, seq);
}

void group_commit_log::commit_group(std::vector<pending_append*>& group) {
    batch_size_.observe(static_cast<double>(group.size()));

    std::vector<std::string> keys;
    keys.reserve(group.size());
    for (const auto* node : group) {
        keys.push_back(
            codec::idempotency_key(node->request.sender_id, node->request.client_msg_id));
    }
    auto found = engine_find_idempotency(keys);
    if (!found) {
        for (auto* node : group) {
            finish(node, found.error());
        }
        return;
    }

    const std::int64_t now_ms = clock_->now_ms();
    const std::int64_t window_ms = options_.idempotency_window_s * 1000;

    std::vector<staged> outcomes(group.size());
    // Latest version of every message this group writes (new ones and changed targets), by
    // message key.
    std::unordered_map<std::string, stored_message> touched;
    std::vector<std::size_t> new_order;      // the fresh appends' indexes in `group`
    std::vector<std::uint64_t> new_origins;  // parallel to new_order
    std::unordered_set<std::string> updated_existing;
    // (conversation, seq) of messages rewritten for good by this group.
    std::vector<std::pair<std::string, std::uint64_t>> purged;
    // Idempotency key -> index in `group` of the fresh append that claimed it in this group.
    std::unordered_map<std::string, std::size_t> in_batch;
    // Batch-local heads; dropped if the write fails, which is how a failure consumes no seq.
    std::unordered_map<std::string, codec::conversation_head> working;
    std::vector<std::pair<std::string, codec::idempotency_record>> idempotency;
    std::vector<sent_record> sent;
    index_overlay index(*this);

    for (std::size_t i = 0; i < group.size(); ++i) {
        append_request& req = group[i]->request;
        staged& out = outcomes[i];

        if (const auto it = in_batch.find(keys[i]); it != in_batch.end()) {
            out.what = staged::kind::in_batch_dup;
            out.original = it->second;
            continue;
        }
        // A hit past its conversation's last_seq names a dropped message: no hit.
        if (const auto& hit = (*found)[i];
            hit && now_ms - hit->written_at_ms <= window_ms &&
            hit->seq <= committed_last_seq_for_writer(hit->conversation_id)) {
            auto original = load_for_writer(hit->conversation_id, hit->seq, touched);
            if (!original) {
                out.failure = original.error();
            } else if (!*original) {
                out.failure =
                    make_error(errc::internal, fmt::format("idempotency entry points to a missing "
                                                           "message {}/{}",
                                                           hit->conversation_id, hit->seq));
                infra::log::error(log_module, out.failure.message);
            } else {
                out.what = staged::kind::stored_dup;
                out.message = std::move(**original);
            }
            continue;
        }
        if (req.lookup_only) {
            out.failure = make_error(errc::not_found, "no message stored under this client_msg_id");
            continue;
        }
        if (dropped_.contains(req.conversation_id)) {
            out.failure = make_error(errc::not_found, "the conversation was deleted");
            continue;
        }

        auto head_it = working.find(req.conversation_id);
        if (head_it == working.end()) {
            codec::conversation_head head;
            head.last_seq = committed_last_seq_for_writer(req.conversation_id);
            head_it = working.emplace(req.conversation_id, head).first;
        }
        codec::conversation_head& head = head_it->second;

        if (req.target_seq != 0) {
            if (req.target_seq > head.last_seq) {
                out.failure = make_error(
                    errc::not_found,
                    fmt::format("no message {} in {}", req.target_seq, req.conversation_id));
                continue;
            }
            auto target = load_for_writer(req.conversation_id, req.target_seq, touched);
            if (!target) {
                out.failure = target.error();
                continue;
            }
            if (!*target) {
                out.failure = make_error(
                    errc::not_found,
                    fmt::format("no message {} in {}", req.target_seq, req.conversation_id));
                continue;
            }
            if (req.update_target || req.update_target_at || req.reaction || req.clear_reactions) {
                const std::uint64_t op_seq = head.last_seq + 1;
                // Every change this append makes to committed or staged messages, applied to
                // `touched` only when all of them succeeded: a failed append changes nothing.
                // rewritten[0] is the target; the rest are `related` messages.
                std::vector<stored_message> rewritten;
                bool target_changed = false;
                std::optional<error> failure;
                try {
                    std::vector<std::uint64_t> related;
                    if (req.related) {
                        related = req.related(**target);
                    }
                    stored_message updated = std::move(**target);
                    if (req.update_target || req.update_target_at) {
                        auto new_state = req.update_target ? req.update_target(updated)
                                                           : req.update_target_at(updated, op_seq);
                        if (!new_state) {
                            failure = new_state.error();
                        } else if (*new_state != updated.state) {
                            // An unchanged state (a reaction's check) does not rewrite the target.
                            updated.state = std::move(*new_state);
                            target_changed = true;
                        }
                    }
                    if (!failure) {
                        if (req.rewrite) {
                            req.rewrite(updated);
                            target_changed = true;
                        }
                        rewritten.push_back(std::move(updated));
                        std::unordered_set<std::uint64_t> seen{req.target_seq};
                        for (const std::uint64_t seq : related) {
                            if (seq == 0 || seq >= op_seq || !seen.insert(seq).second) {
                                continue;
                            }
                            auto other = load_for_writer(req.conversation_id, seq, touched);
                            if (!other) {
                                failure = other.error();
                                break;
                            }
                            if (!*other) {
                                continue;  // nothing there to rewrite
                            }
                            if (req.rewrite) {
                                req.rewrite(**other);
                            }
                            rewritten.push_back(std::move(**other));
                        }
                    }
                } catch (const std::exception& e) {
                    failure = make_error(errc::internal,
                                         fmt::format("update_target threw: {}", e.what()));
                } catch (...) {
                    failure = make_error(errc::internal, "update_target threw");
                }
                if (failure) {
                    out.failure = std::move(*failure);
                    continue;
                }
                // apply_reaction stages nothing when it fails, so a failure leaves the group's
                // view of the index as it was.
                if (req.reaction) {
                    auto applied = apply_reaction(rewritten.front(), *req.reaction, req.sender_id, index);
                    if (!applied) {
                        out.failure = applied.error();
                        continue;
                    }
                    target_changed = target_changed || *applied;
                }
                if (req.clear_reactions) {
                    target_changed = clear_reactions(rewritten.front(), index) || target_changed;
                }
                for (std::size_t k = 0; k < rewritten.size(); ++k) {
                    auto& m = rewritten[k];
                    if (k == 0 && !target_changed) {
                        continue;
                    }
                    if (req.rewrite) {
                        purged.emplace_back(m.conversation_id, m.seq);
                    }
                    std::string key = codec::message_key(m.conversation_id, m.seq);
                    updated_existing.insert(key);
                    touched.insert_or_assign(std::move(key), std::move(m));
                }
            }
        }

        stored_message msg;
        // The request is not read again: its strings move into the message.
        msg.conversation_id = std::move(req.conversation_id);
        msg.seq = head.last_seq + 1;
        msg.message_id = req.message_id;
        msg.sender_id = req.sender_id;
        msg.client_msg_id = std::move(req.client_msg_id);
        msg.ts_ms = req.ts_ms;
        msg.body = std::move(req.body);
        msg.target_seq = req.target_seq;
        head.last_seq = msg.seq;
        head.last_ts_ms = msg.ts_ms;

        codec::idempotency_record record;
        record.conversation_id = msg.conversation_id;
        record.seq = msg.seq;
        record.message_id = msg.message_id;
        record.ts_ms = msg.ts_ms;
        record.written_at_ms = now_ms;
        idempotency.emplace_back(keys[i], std::move(record));

        if (req.record_sent) {
            sent.push_back(sent_record{msg.message_id, msg.sender_id, msg.conversation_id, msg.seq,
                                       msg.ts_ms, req.direct_peer});
        }

        out.what = staged::kind::fresh;
        out.message_key = codec::message_key(msg.conversation_id, msg.seq);
        in_batch.emplace(std::move(keys[i]), i);
        new_order.push_back(i);
        new_origins.push_back(req.origin);
        touched.emplace(out.message_key, std::move(msg));
    }

    commit_batch batch;
    batch.new_messages.reserve(new_order.size());
    // Moved out of `touched`, which nothing reads after this: the appends are answered from
    // the batch (or the commit event that takes its messages).
    for (const std::size_t i : new_order) {
        // A message created in this group is written once, in its final state.
        const std::string& key = outcomes[i].message_key;
        updated_existing.erase(key);
        outcomes[i].position = batch.new_messages.size();
        batch.new_messages.push_back(std::move(touched.at(key)));
    }
    for (const auto& key : updated_existing) {
        batch.updated_targets.push_back(std::move(touched.at(key)));
    }
    batch.idempotency = std::move(idempotency);
    batch.purged = std::move(purged);
    batch.reaction_ops = std::move(index.ops());
    batch.sent = std::move(sent);
    batch.origins = std::move(new_origins);
    for (const auto& [conversation_id, head] : working) {
        if (head.last_seq != committed_last_seq_for_writer(conversation_id)) {
            batch.conversations.emplace_back(conversation_id, head);
        }
    }

    // Where the new messages are once the listeners had them.
    std::shared_ptr<const std::vector<stored_message>> committed;
    if (!batch.empty()) {
        const status written = engine_write(batch);
        if (!written) {
            write_errors_total_.inc();
            // A full disk fails every group until space returns, thousands per second: one
            // line per second, with the number of failures it stands for.
            ++unlogged_write_errors_;
            const auto now = std::chrono::steady_clock::now();
            if (now - last_write_error_log_ >= std::chrono::seconds(1)) {
                infra::log::warn(log_module, "group commit failed",
                                 {{"appends", group.size()},
                                  {"failed_commits", unlogged_write_errors_},
                                  {"error", written.error().message}});
                last_write_error_log_ = now;
                unlogged_write_errors_ = 0;
            }
            const error failure =
                make_error(errc::unavailable,
                           fmt::format("message log write failed: {}", written.error().message));
            for (std::size_t i = 0; i < group.size(); ++i) {
                // Duplicates of committed messages needed no write: they are still answered.
                if (outcomes[i].what == staged::kind::fresh ||
                    outcomes[i].what == staged::kind::in_batch_dup) {
                    outcomes[i].what = staged::kind::failed;
                    outcomes[i].failure = failure;
                }
            }
        } else {
            {
                std::unique_lock lock(heads_mutex_);
                for (const auto& [conversation_id, head] : batch.conversations) {
                    heads_.insert_or_assign(conversation_id, head);
                }
            }
            engine_committed(batch);
            std::shared_ptr<const listener_list> listeners;
            {
                std::lock_guard lock(listener_mutex_);
                listeners = listeners_;
            }
            if (listeners->empty() || batch.new_messages.empty()) {
                appends_total_.inc(batch.new_messages.size());
            } else {
                commit_event event;
                // Moved: nothing reads the batch's messages after the listeners.
                appends_total_.inc(batch.new_messages.size());
                event.messages = std::make_shared<const std::vector<stored_message>>(
                    std::move(batch.new_messages));
                event.origins = std::move(batch.origins);
                committed = event.messages;
                for (const auto& listener : *listeners) {
                    try {
                        listener(event);
                    } catch (const std::exception& e) {
                        infra::log::error(log_module, "commit listener threw", {{"error", e.what()}});
                    } catch (...) {
                        infra::log::error(log_module, "commit listener threw");
                    }
                }
            }
        }
    }

    const std::vector<stored_message>& created = committed ? *committed : batch.new_messages;
    for (std::size_t i = 0; i < group.size(); ++i) {
        staged& out = outcomes[i];
        switch (out.what) {
            case staged::kind::fresh:
                finish(group[i], append_result{created[out.position], false});
                break;
            case staged::kind::in_batch_dup:
                duplicates_total_.inc();
                finish(group[i], append_result{created[outcomes[out.original].position], true});
                break;
            case staged::kind::stored_dup:
                duplicates_total_.inc();
                finish(group[i], append_result{std::move(out.message), true});
                break;
            case staged::kind::failed:
                failures_total_.inc();
                finish(group[i], std::move(out.failure));
                break;
        }
    }
}

void group_commit_log::finish(pending_append* node, result<append_result> outcome) {
    const auto elapsed = clock_->steady_now() - node->enqueued_at;
    latency_.observe(std::chrono::duration<double>(elapsed).count());
    pending_.fetch_sub(1, std::memory_order_relaxed);
    queue_depth_.dec();
    node->complete(std::move(outcome));
    delete node;
}

std::uint64_t group_commit_log::last_seq(const std::string& conversation_id) const {
    std::shared_lock lock(heads_mutex_);
    const auto it = heads_.find(conversation_id);
    return it == heads_.end() ? 0 : it->second.last_seq;
}

std::vector<std::pair<std::string, std::uint64_t>> group_commit_log::conversations() const {
    std::shared_lock lock(heads_mutex_);
    std::vector<std::pair<std::string, std::uint64_t>> out;
    out.reserve(heads_.size());
    for (const auto& [conversation_id, head] : heads_) {
        out.emplace_back(conversation_id, head.last_seq);
    }
    return out;
}

void group_commit_log::add_commit_listener(std::function<void(const commit_event&)> listener) {
    std::lock_guard lock(listener_mutex_);
    auto next = std::make_shared<listener_list>(*listeners_);
    next->push_back(std::move(listener));
    listeners_ = std::move(next);
}

result<read_range> group_commit_log::plan_after(const std::string& conversation_id,
                                                std::uint64_t after_seq, std::size_t limit) const {
    if (auto err = validate_read(conversation_id, limit)) {
        return std::move(*err);
    }
    limit = std::min(limit, options_.max_read_limit);
    const std::uint64_t last = last_seq(conversation_id);
    read_range r;
    if (after_seq >= last) {
        return r;
    }
    r.first = after_seq + 1;
    r.last = last - after_seq > limit ? after_seq + limit : last;
    r.has_more = r.last < last;
    return r;
}

result<read_range> group_commit_log::plan_before(const std::string& conversation_id,
                                                 std::uint64_t before_seq,
                                                 std::size_t limit) const {
    if (auto err = validate_read(conversation_id, limit)) {
        return std::move(*err);
    }
    limit = std::min(limit, options_.max_read_limit);
    const std::uint64_t last = last_seq(conversation_id);
    read_range r;
    if (before_seq <= 1 || last == 0) {
        return r;
    }
    r.last = std::min(before_seq - 1, last);
    r.first = r.last >= limit ? r.last - limit + 1 : 1;
    r.has_more = r.first > 1;
    return r;
}

result<reaction_users_page> group_commit_log::read_reaction_users(
    const std::string& conversation_id, std::uint64_t seq, const std::string& emoji,
    std::uint64_t after_user_id, std::size_t limit) {
    if (auto err = validate_read(conversation_id, limit)) {
        return std::move(*err);
    }
    if (emoji.empty() || emoji.size() > max_index_emoji_bytes) {
        return make_error(errc::invalid_argument, "emoji must be 1 to 255 bytes");
    }
    limit = std::min(limit, options_.max_read_limit);
    reaction_users_page page;
    if (after_user_id == std::numeric_limits<std::uint64_t>::max()) {
        return page;
    }
    auto entries = index_scan(reaction_user_key(conversation_id, seq, emoji, after_user_id + 1),
                              reaction_user_end(conversation_id, seq, emoji), limit + 1);
    if (!entries) {
        return entries.error();
    }
    page.has_more = entries->size() > limit;
    const std::size_t n = std::min(entries->size(), limit);
    page.user_ids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        page.user_ids.push_back(reaction_key_suffix((*entries)[i].first));
    }
    return page;
}

result<std::vector<bool>> group_commit_log::read_has_reacted(
    const std::string& conversation_id, std::uint64_t user_id,
    const std::vector<std::pair<std::uint64_t, std::string>>& keys) {
    if (conversation_id.empty()) {
        return make_error(errc::invalid_argument, "conversation_id is empty");
    }
    std::vector<bool> out;
    out.reserve(keys.size());
    for (const auto& [seq, emoji] : keys) {
        if (emoji.empty() || emoji.size() > max_index_emoji_bytes) {
            out.push_back(false);
            continue;
        }
        auto found = index_get(reaction_user_key(conversation_id, seq, emoji, user_id));
        if (!found) {
            return found.error();
        }
        out.push_back(found->has_value());
    }
    return out;
}

result<read_range> group_commit_log::plan_latest(const std::string& conversation_id,
                                                 std::size_t limit) const {
    if (auto err = validate_read(conversation_id, limit)) {
        return std::move(*err);
    }
    limit = std::min(limit, options_.max_read_limit);
    const std::uint64_t last = last_seq(conversation_id);
    read_range r;
    if (last == 0) {
        return r;
    }
    r.last = last;
    r.first = last >= limit ? last - limit + 1 : 1;
    r.has_more = r.first > 1;
    return r;
}

}  // namespace monochat::storage::detail
