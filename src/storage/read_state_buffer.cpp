// The read-state buffer: how a send moves its sender's read position (and lists a new direct
// chat) without a SQLite write on the send path.
//
// The send path's record() only merges into a map in memory. The same record is durable
// already: the message log queued it in the message's own write batch (sent_record.hpp).
// A background flush writes the merged records to the wrapped store in one transaction
// (record_sent), then drops them from the log's queue (settle_sent). Under load a flush
// carries many sends of each (user, conversation) as one row.
//
// Read your writes (shared/protocol.md v1.1): every call that reads or depends on read state
// or the direct-chat list, and the administration role's backup, settles first: it waits until every record made before it is in the
// store, starting a flush at once if none is running. A call made when nothing is pending
// costs one lock. At start-up, the records a crash kept in the log's queue are written before
// the buffer serves anything.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <functional>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/social_stores.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "storage/forwarding_stores.hpp"

namespace monochat::storage {
namespace {

namespace net = boost::asio;

struct pending_key {
    std::uint64_t user_id;
    std::string conversation_id;
    friend bool operator==(const pending_key&, const pending_key&) = default;
};
struct pending_key_hash {
    std::size_t operator()(const pending_key& k) const noexcept {
        return std::hash<std::string>{}(k.conversation_id) ^ (k.user_id * 0x9E3779B97F4A7C15ULL);
    }
};

// Direct chats listed by this process are not listed again (bounded; clearing it only costs a
// repeated, idempotent listing).
constexpr std::size_t max_listed = 100'000;

class read_state_buffer final : public detail::forwarding_read_state_store, public sent_recorder {
public:
    read_state_buffer(std::unique_ptr<read_state_store> inner, message_log& log,
                      read_state_buffer_options options, infra::metrics_registry& metrics)
        : forwarding_read_state_store(std::move(inner)),
          log_(log),
          options_(options),
          timer_(pool_),
          flushes_(metrics.get_counter("monochat_read_state_flushes_total",
                                       "Writes of buffered sent records into the social store.")),
          flushed_rows_(metrics.get_counter(
              "monochat_read_state_flushed_rows_total",
              "(user, conversation) rows those writes carried (many sends each under load).")),
          flush_failures_(metrics.get_counter("monochat_read_state_flush_failures_total",
                                              "Writes of buffered sent records that failed.")),
          metrics_(metrics) {
        metrics.gauge_callback("monochat_read_state_pending",
                               "Sent records merged in memory, not yet in the social store.", {},
                               [this] {
                                   std::lock_guard lock(mutex_);
                                   return static_cast<double>(pending_.size());
                               },
                               this);
    }

    ~read_state_buffer() override {
        metrics_.remove_callbacks(this);
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            timer_armed_ = false;
            timer_.cancel();
        }
        // What is still pending goes out now; what cannot is in the log's queue for the next
        // start.
        try {
            net::co_spawn(pool_, final_flush(), net::use_future).get();
        } catch (const std::exception& e) {
            infra::log::warn("storage", "read state: final flush failed", {{"error", e.what()}});
        }
        pool_.join();
    }

    // Writes what a crash left in the log's queue. Called once, before the buffer is shared.
    status recover() {
        auto records = log_.unsettled_sent();
        if (!records) {
            return records.error();
        }
        if (records->empty()) {
            return {};
        }
        std::vector<std::uint64_t> ids;
        ids.reserve(records->size());
        for (const auto& r : *records) {
            ids.push_back(r.message_id);
        }
        const auto n = records->size();
        auto written = net::co_spawn(pool_, inner_read_state().record_sent(std::move(*records)), net::use_future).get();
        if (!written) {
            return written.error();
        }
        infra::log::info("storage", "read state: sent records recovered from the message log",
                         {{"records", n}});
        return log_.settle_sent(ids);
    }

    // ---- sent_recorder ----

    void record(sent_record r) override {
        std::lock_guard lock(mutex_);
        if (r.direct_peer != 0) {
            if (listed_.size() >= max_listed) {
                listed_.clear();
            }
            if (!listed_.insert(r.conversation_id).second) {
                r.direct_peer = 0;
            }
        }
        ids_.push_back(r.message_id);
        ++recorded_;
        pending_key key{r.user_id, r.conversation_id};
        auto [it, fresh] = pending_.try_emplace(std::move(key), std::move(r));
        if (!fresh) {
            merge(it->second, r);
        }
        if (pending_.size() >= options_.max_pending) {
            start_flush_locked();
        } else {
            arm_timer_locked();
        }
    }

    // ---- reads and writes that must see every recorded send ----

    task<bool> set_read_position(std::uint64_t user, std::string cid, std::uint64_t seq,
                                 std::int64_t now) override {
        co_await settle();
        co_return co_await inner_read_state().set_read_position(user, std::move(cid), seq, now);
    }
    task<std::uint64_t> get_read_position(std::uint64_t user, std::string cid) override {
        co_await settle();
        co_return co_await inner_read_state().get_read_position(user, std::move(cid));
    }
    task<std::vector<read_position>> read_positions(std::uint64_t user) override {
        co_await settle();
        co_return co_await inner_read_state().read_positions(user);
    }
    task<readers_result> conversation_readers(std::string cid, std::uint64_t seq, std::size_t limit,
                                              std::optional<std::uint64_t> group) override {
        co_await settle();
        co_return co_await inner_read_state().conversation_readers(std::move(cid), seq, limit, group);
    }
    task<std::uint64_t> add_mentions(std::string cid, std::uint64_t seq,
                                     std::vector<std::uint64_t> users,
                                     std::optional<std::uint64_t> group) override {
        co_await settle();
        co_return co_await inner_read_state().add_mentions(std::move(cid), seq, std::move(users), group);
    }
    task<std::vector<mention_count>> unread_mentions(std::uint64_t user) override {
        co_await settle();
        co_return co_await inner_read_state().unread_mentions(user);
    }
    task<std::vector<direct_conversation>> direct_conversations(std::uint64_t user) override {
        co_await settle();
        co_return co_await inner_read_state().direct_conversations(user);
    }

    // Completes once every record made before the call is in the store.
    boost::asio::awaitable<void> settled() { co_await settle(); }

private:
    static void merge(sent_record& into, const sent_record& r) {
        if (r.seq > into.seq) {
            into.seq = r.seq;
            into.ts_ms = r.ts_ms;
            into.message_id = r.message_id;
        }
        if (r.direct_peer != 0) {
            into.direct_peer = r.direct_peer;
        }
    }

    // Completes once every record made before the call is in the store (or a write of them
    // failed: the read then goes on without them rather than hang).
    net::awaitable<void> settle() {
        std::uint64_t target = 0;
        {
            std::lock_guard lock(mutex_);
            target = recorded_;
            if (flushed_ >= target) {
                co_return;
            }
        }
        co_await net::async_initiate<const net::use_awaitable_t<>&, void()>(
            [this, target](auto handler) {
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                auto resume = [shared] {
                    auto ex = net::get_associated_executor(*shared);
                    net::post(ex, [shared]() mutable { std::move(*shared)(); });
                };
                std::lock_guard lock(mutex_);
                if (flushed_ >= target) {
                    resume();
                    return;
                }
                waiters_.push_back({target, std::move(resume)});
                start_flush_locked();
            },
            net::use_awaitable);
    }

    // Starts a flush now, or right after the one in progress.
    void start_flush_locked() {
        if (stopping_) {
            return;  // the destructor's final flush takes what is pending
        }
        if (flushing_) {
            again_ = true;
            return;
        }
        flushing_ = true;
        timer_armed_ = false;
        timer_.cancel();
        // Posted: co_spawn would start the flush inline on a pool thread, under this lock.
        net::post(pool_, [this] { net::co_spawn(pool_, flush(), net::detached); });
    }

    // A flush after options_.flush_delay, unless one is due sooner.
    void arm_timer_locked() {
        if (flushing_ || timer_armed_ || stopping_) {
            return;
        }
        timer_armed_ = true;
        net::post(pool_, [this] {
            std::lock_guard lock(mutex_);
            if (!timer_armed_) {
                return;
            }
            timer_.expires_after(options_.flush_delay);
            timer_.async_wait([this](const boost::system::error_code& ec) {
                if (ec) {
                    return;
                }
                std::lock_guard lock(mutex_);
                if (timer_armed_ && !pending_.empty()) {
                    start_flush_locked();
                } else {
                    timer_armed_ = false;
                }
            });
        });
    }

    net::awaitable<void> flush() {
        std::vector<sent_record> batch;
        std::vector<std::uint64_t> ids;
        std::uint64_t upto = 0;
        {
            std::lock_guard lock(mutex_);
            batch.reserve(pending_.size());
            for (auto& [key, r] : pending_) {
                batch.push_back(std::move(r));
            }
            pending_.clear();
            ids.swap(ids_);
            upto = recorded_;
            again_ = false;
        }
        bool ok = true;
        if (!batch.empty()) {
            flushes_.inc();
            flushed_rows_.inc(batch.size());
            auto written = co_await inner_read_state().record_sent(batch);
            ok = static_cast<bool>(written);
            if (ok) {
                if (auto st = log_.settle_sent(ids); !st) {
                    // Harmless: the records are written again at the next start.
                    infra::log::warn("storage", "read state: sent records not dropped from the log",
                                     {{"error", st.error().message}});
                }
            } else {
                flush_failures_.inc();
                infra::log::warn("storage", "read state: sent records not written; retrying",
                                 {{"rows", batch.size()}, {"error", written.error().message}});
            }
        }
        std::vector<std::function<void()>> ready;
        {
            std::lock_guard lock(mutex_);
            flushing_ = false;
            if (ok) {
                flushed_ = std::max(flushed_, upto);
            } else {
                // Back into the map (newer records may have arrived meanwhile), tried again
                // after the delay; readers waiting now go on without them.
                for (auto& r : batch) {
                    pending_key key{r.user_id, r.conversation_id};
                    auto [it, fresh] = pending_.try_emplace(std::move(key), r);
                    if (!fresh) {
                        merge(it->second, r);
                    }
                }
                ids_.insert(ids_.end(), ids.begin(), ids.end());
            }
            for (auto it = waiters_.begin(); it != waiters_.end();) {
                if (!ok || it->target <= flushed_) {
                    ready.push_back(std::move(it->resume));
                    it = waiters_.erase(it);
                } else {
                    ++it;
                }
            }
            if (ok && !pending_.empty() &&
                (again_ || !waiters_.empty() || pending_.size() >= options_.max_pending)) {
                start_flush_locked();
            } else if (!pending_.empty()) {
                arm_timer_locked();
            }
        }
        for (auto& resume : ready) {
            resume();
        }
    }

    net::awaitable<void> final_flush() {
        std::vector<sent_record> batch;
        std::vector<std::uint64_t> ids;
        {
            std::lock_guard lock(mutex_);
            for (auto& [key, r] : pending_) {
                batch.push_back(std::move(r));
            }
            pending_.clear();
            ids.swap(ids_);
        }
        if (batch.empty()) {
            co_return;
        }
        if (auto written = co_await inner_read_state().record_sent(std::move(batch)); written) {
            (void)log_.settle_sent(ids);
        }
    }

    struct waiter {
        std::uint64_t target;
        std::function<void()> resume;
    };

    message_log& log_;
    read_state_buffer_options options_;
    net::thread_pool pool_{1};
    net::steady_timer timer_;

    std::mutex mutex_;
    std::unordered_map<pending_key, sent_record, pending_key_hash> pending_;
    std::vector<std::uint64_t> ids_;  // message ids of the pending records, for settle_sent
    std::unordered_set<std::string> listed_;
    std::uint64_t recorded_ = 0;  // records made so far
    std::uint64_t flushed_ = 0;   // records made before the last successful flush began
    bool flushing_ = false;
    bool again_ = false;  // a flush was asked for while one ran
    bool timer_armed_ = false;
    bool stopping_ = false;
    std::vector<waiter> waiters_;

    infra::counter& flushes_;
    infra::counter& flushed_rows_;
    infra::counter& flush_failures_;
    infra::metrics_registry& metrics_;
};

// The administration role, whose backup holds every send recorded before it (the records wait
// in the buffer, not in SQLite). The buffer must outlive it.
class settling_admin_store final : public detail::forwarding_admin_store {
public:
    settling_admin_store(std::unique_ptr<admin_store> inner, read_state_buffer& buffer)
        : forwarding_admin_store(std::move(inner)), buffer_(buffer) {}

    task<void> backup_to(std::string path) override {
        co_await buffer_.settled();
        co_return co_await inner_admin().backup_to(std::move(path));
    }

private:
    read_state_buffer& buffer_;
};

}  // namespace

result<buffered_read_state> make_read_state_buffer(std::unique_ptr<read_state_store> inner,
                                                   std::unique_ptr<admin_store> admin,
                                                   message_log& log,
                                                   read_state_buffer_options options,
                                                   infra::metrics_registry& metrics) {
    auto buffer = std::make_unique<read_state_buffer>(std::move(inner), log, options, metrics);
    if (auto st = buffer->recover(); !st) {
        return st.error();
    }
    buffered_read_state out;
    out.recorder = buffer.get();
    out.admin = std::make_unique<settling_admin_store>(std::move(admin), *buffer);
    out.read_state = std::move(buffer);
    return out;
}

}  // namespace monochat::storage
