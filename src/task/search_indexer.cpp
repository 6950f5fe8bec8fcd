#include <monochat/task/search_indexer.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <deque>
#include <ctime>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/thread_name.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/search_index.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace monochat::task {

namespace net = boost::asio;
using json = nlohmann::json;

namespace {

std::vector<double> batch_size_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096}; }

// A batch being built: the changes and, per conversation, the position it reaches.
struct batch_builder {
    storage::search_batch batch;
    std::unordered_map<std::string, std::uint64_t> reach;
    std::size_t messages = 0;
    std::int64_t oldest_ts_ms = 0;

    bool empty() const { return messages == 0 && batch.forget.empty(); }

    // Translates one message of the log into at most one change, and moves the position.
    void take(const storage::stored_message& m) {
        ++messages;
        if (oldest_ts_ms == 0 || m.ts_ms < oldest_ts_ms) {
            oldest_ts_ms = m.ts_ms;
        }
        reach[m.conversation_id] = m.seq;
        const json body = json::parse(m.body, nullptr, false);
        if (!body.is_object()) {
            return;  // not ours to judge: the log holds what logic validated
        }
        const auto type = body.find("type");
        if (type == body.end() || !type->is_string()) {
            return;
        }
        const auto text_of_key = [](const json& j, const char* key) -> std::optional<std::string> {
            const auto t = j.find(key);
            if (t == j.end() || !t->is_string()) {
                return std::nullopt;
            }
            return t->get<std::string>();
        };
        const auto text_of = [&text_of_key](const json& j) { return text_of_key(j, "text"); };
        const std::string& kind = type->get_ref<const std::string&>();
        if (kind == "text") {
            auto text = text_of(body);
            // Read back from the log (catch-up), a message carries its current state: a
            // recalled one is not indexed, an edited one is indexed with its latest text.
            if (!m.state.empty()) {
                const json state = json::parse(m.state, nullptr, false);
                if (state.is_object()) {
                    if (state.value("recalled", false)) {
                        return;
                    }
                    if (auto edited = text_of(state)) {
                        text = std::move(edited);
                    }
                }
            }
            if (text && !text->empty()) {
                batch.changes.push_back({storage::search_change_kind::add, m.conversation_id,
                                         m.seq, m.message_id, std::move(*text)});
            }
            return;
        }
        if (kind == "file") {
            // Found by the file's name and the caption; a recalled one is not indexed.
            if (!m.state.empty()) {
                const json state = json::parse(m.state, nullptr, false);
                if (state.is_object() && state.value("recalled", false)) {
                    return;
                }
            }
            std::string text;
            const auto file = body.find("file");
            if (file != body.end() && file->is_object()) {
                if (auto name = text_of_key(*file, "name")) {
                    text = std::move(*name);
                }
            }
            if (auto caption = text_of_key(body, "caption")) {
                text += text.empty() ? "" : "\n";
                text += *caption;
            }
            if (!text.empty()) {
                batch.changes.push_back({storage::search_change_kind::add, m.conversation_id,
                                         m.seq, m.message_id, std::move(text)});
            }
            return;
        }
        std::uint64_t target = m.target_seq;
        if (target == 0) {
            const auto t = body.find("target_seq");
            if (t != body.end() && t->is_number_unsigned()) {
                target = t->get<std::uint64_t>();
            }
        }
        if (target == 0) {
            return;
        }
        if (kind == "edit") {
            if (auto text = text_of(body)) {
                batch.changes.push_back({storage::search_change_kind::replace, m.conversation_id,
                                         target, 0, std::move(*text)});
            }
        } else if (kind == "recall") {
            batch.changes.push_back(
                {storage::search_change_kind::remove, m.conversation_id, target, 0, {}});
        }
    }

    storage::search_batch finish() {
        for (auto& [cid, seq] : reach) {
            batch.positions.emplace_back(cid, seq);
        }
        return std::move(batch);
    }
};

// The committed batches waiting for the indexer, shared with the log's listener: the storage
// writer hands a batch over without copying a message; the indexer thread copies them out.
class batch_queue {
public:
    using batch = std::shared_ptr<const std::vector<storage::stored_message>>;

    void push(batch b) {
        size_ += b->size();
        batches_.push_back(std::move(b));
    }
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    const storage::stored_message& front() const { return (*batches_.front())[offset_]; }

    // The first `n` messages (at most size()), as slices of their batches: taken under the
    // indexer's lock, copied out after it (the writer never waits for the copies).
    struct slice {
        batch messages;
        std::size_t from = 0;
        std::size_t to = 0;  // exclusive
    };
    std::vector<slice> take(std::size_t n) {
        std::vector<slice> out;
        while (n > 0 && !batches_.empty()) {
            const auto& front_batch = batches_.front();
            const std::size_t k = std::min(n, front_batch->size() - offset_);
            out.push_back({front_batch, offset_, offset_ + k});
            offset_ += k;
            size_ -= k;
            n -= k;
            if (offset_ == front_batch->size()) {
                batches_.pop_front();
                offset_ = 0;
            }
        }
        return out;
    }

private:
    std::deque<batch> batches_;
    std::size_t offset_ = 0;  // into batches_.front()
    std::size_t size_ = 0;    // messages
};

// CPU time the calling thread has used.
std::chrono::microseconds thread_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) +
           std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::nanoseconds(ts.tv_nsec));
}

}  // namespace

struct search_indexer::impl {
    impl(storage::message_log& l, storage::search_index& i, const infra::clock& c,
         infra::metrics_registry& m, search_indexer_options o)
        : log(l),
          index(i),
          clock(c),
          metrics(m),
          options(o),
          reads(1),
          indexed(m.get_counter("monochat_search_indexed_total",
                                "Messages taken into the search index (text or not).")),
          cpu_us(m.get_counter("monochat_search_indexer_cpu_microseconds_total",
                               "CPU time the indexer thread spent indexing (for CPU per message: "
                               "divide by monochat_search_indexed_total).")),
          errors(m.get_counter("monochat_search_index_errors_total",
                               "Search index batches that failed and were retried from the log.")),
          batch_size(m.get_histogram("monochat_search_batch_size",
                                     "Messages per search index transaction.",
                                     batch_size_buckets())) {
        if (options.max_batch == 0) {
            options.max_batch = 1;
        }
    }

    storage::message_log& log;
    storage::search_index& index;
    const infra::clock& clock;
    infra::metrics_registry& metrics;
    search_indexer_options options;
    // Runs the log's awaitables for the indexer thread, which waits on their futures.
    net::thread_pool reads;
    infra::counter& indexed;
    infra::counter& cpu_us;
    infra::counter& errors;
    infra::histogram& batch_size;

    // Guarded by `mutex`: what the commit listener hands over, and the stop flag.
    mutable std::mutex mutex;
    std::condition_variable wake;
    batch_queue queue;
    // Conversation -> a seq known to be persisted; read from the log up to its last_seq.
    std::unordered_map<std::string, std::uint64_t> behind;
    // Since when some conversation has been behind without a pause (lag gauge).
    std::optional<std::chrono::steady_clock::time_point> behind_since;
    bool stopping = false;
    bool idle = false;  // the thread waits with nothing queued, behind or to catch up
    // Conversations dropped from the log (forget()): skipped from then on; those whose
    // entries are still to leave the index are in `to_forget`.
    std::unordered_set<std::string> dropped;
    std::vector<std::string> to_forget;

    // Indexer thread only (and start(), before the thread exists).
    std::unordered_map<std::string, std::uint64_t> positions;

    struct relay_state {
        std::mutex mutex;
        impl* target = nullptr;
    };
    std::shared_ptr<relay_state> relay;
    std::thread thread;
    bool started = false;

    // ---- the log's side ----

    // On the storage writer thread, once per group commit: one lock, one wake.
    void on_commit(const storage::commit_event& e) {
        {
            std::lock_guard lock(mutex);
            if (stopping) {
                return;
            }
            // Bounded at queue_capacity messages plus one commit's worth.
            if (queue.size() < options.queue_capacity) {
                queue.push(e.messages);
            } else {
                for (const auto& m : *e.messages) {
                    mark_behind_locked(m.conversation_id, m.seq);
                }
            }
            idle = false;
        }
        wake.notify_one();
    }

    void mark_behind_locked(const std::string& cid, std::uint64_t seq) {
        if (dropped.contains(cid)) {
            return;
        }
        if (!behind_since) {
            behind_since = clock.steady_now();
        }
        auto& known = behind[cid];
        known = std::max(known, seq);
    }

    void mark_behind(const std::string& cid, std::uint64_t seq) {
        std::lock_guard lock(mutex);
        mark_behind_locked(cid, seq);
    }

    double lag_seconds() const {
        std::lock_guard lock(mutex);
        double lag = 0;
        if (!queue.empty()) {
            lag = static_cast<double>(clock.now_ms() - queue.front().ts_ms) / 1000.0;
        }
        if (behind_since) {
            lag = std::max(lag,
                           std::chrono::duration<double>(clock.steady_now() - *behind_since).count());
        }
        return std::max(lag, 0.0);
    }

    // ---- start and stop ----

    status start() {
        auto stored = index.positions();
        if (!stored) {
            return stored.error();
        }
        for (auto& [cid, seq] : *stored) {
            positions.emplace(std::move(cid), seq);
        }
        // Listening before the catch-up is planned, so that nothing committed in between can
        // fall between the two: what the catch-up also reads, the positions then skip. The
        // listener outlives the indexer in the log: it reaches the indexer through `relay`,
        // which stop() disconnects.
        relay = std::make_shared<relay_state>();
        relay->target = this;
        log.add_commit_listener([r = relay](const storage::commit_event& e) {
            std::lock_guard lock(r->mutex);
            if (r->target != nullptr) {
                r->target->on_commit(e);
            }
        });
        metrics.gauge_callback("monochat_search_index_lag_seconds",
                               "Age of the oldest persisted message not yet in the search index.",
                               {}, [this] { return lag_seconds(); }, this);
        metrics.gauge_callback("monochat_queue_depth", "Items waiting in a queue.",
                               {{"queue", "search_indexer"}},
                               [this] {
                                   std::lock_guard lock(mutex);
                                   return static_cast<double>(queue.size());
                               },
                               this);
        std::vector<std::string> forget;
        {
            std::lock_guard lock(mutex);
            for (const auto& [cid, last] : log.conversations()) {
                const auto it = positions.find(cid);
                if (it == positions.end() || it->second < last) {
                    mark_behind_locked(cid, last);
                }
            }
            for (const auto& [cid, pos] : positions) {
                const std::uint64_t last = log.last_seq(cid);
                if (last < pos) {
                    forget.push_back(cid);
                    if (last > 0) {
                        mark_behind_locked(cid, last);
                    }
                }
            }
        }
        thread = std::thread([this, forget = std::move(forget)]() mutable {
            infra::name_this_thread("mc-indexer");
            run(std::move(forget));
        });
        started = true;
        return {};
    }

    void stop() {
        if (relay) {
            std::lock_guard lock(relay->mutex);
            relay->target = nullptr;
        }
        {
            std::lock_guard lock(mutex);
            stopping = true;
        }
        wake.notify_all();
        if (thread.joinable()) {
            thread.join();
        }
        if (started) {
            metrics.remove_callbacks(this);
            started = false;
        }
        relay.reset();
    }

    void forget(const std::string& cid) {
        {
            std::lock_guard lock(mutex);
            if (!dropped.insert(cid).second) {
                return;
            }
            behind.erase(cid);
            to_forget.push_back(cid);
            idle = false;
        }
        wake.notify_one();
    }

    bool caught_up() const {
        std::lock_guard lock(mutex);
        if (!idle || !queue.empty() || !behind.empty() || !to_forget.empty()) {
            return false;
        }
        // Idle, the thread is inside wait() and cannot touch `positions` while this holds the
        // mutex.
        for (const auto& [cid, last] : log.conversations()) {
            const auto it = positions.find(cid);
            if (it == positions.end() || it->second < last) {
                return false;
            }
        }
        return true;
    }

    // ---- the indexer thread ----

    // Most conversations one catch-up step takes from `behind`.
    static constexpr std::size_t catch_up_conversations = 64;

    void run(std::vector<std::string> forget) {
        if (!forget.empty()) {
            forget_conversations(forget);
        }
        // Live events and catch-up take turns, so neither starves the other: new messages stay
        // searchable within a batch or two while a large backlog is read from the log.
        bool live_turn = true;
        for (;;) {
            std::vector<storage::stored_message> events;
            std::vector<batch_queue::slice> taken;
            std::vector<std::pair<std::string, std::uint64_t>> lagging;
            std::vector<std::string> forgetting;
            {
                std::unique_lock lock(mutex);
                if (behind.empty()) {
                    behind_since.reset();  // each catch-up step gives back what it left
                }
                if (queue.empty() && behind.empty() && to_forget.empty()) {
                    idle = true;
                }
                wake.wait(lock, [&] {
                    return stopping || !queue.empty() || !behind.empty() || !to_forget.empty();
                });
                idle = false;
                if (!to_forget.empty()) {
                    // Before anything else: what an earlier turn took is written already.
                    forgetting.swap(to_forget);
                }
            }
            if (!forgetting.empty()) {
                drop_conversations(std::move(forgetting));
                continue;
            }
            {
                std::unique_lock lock(mutex);
                if (stopping && queue.empty()) {
                    return;  // what is behind is read from the log by the next start
                }
                if (queue.empty() && behind.empty()) {
                    continue;
                }
                const bool take_live = !queue.empty() && (live_turn || behind.empty() || stopping);
                if (take_live) {
                    if (options.batch_delay.count() > 0 && !stopping) {
                        wake.wait_for(lock, options.batch_delay, [&] {
                            return stopping || queue.size() >= options.max_batch;
                        });
                    }
                    taken = queue.take(options.max_batch);
                } else {
                    for (auto it = behind.begin();
                         it != behind.end() && lagging.size() < catch_up_conversations;) {
                        lagging.emplace_back(it->first, it->second);
                        it = behind.erase(it);
                    }
                }
                live_turn = !take_live;
            }
            const auto cpu_before = thread_cpu();
            for (const auto& part : taken) {
                for (std::size_t k = part.from; k < part.to; ++k) {
                    events.push_back((*part.messages)[k]);
                }
            }
            taken.clear();
            if (!events.empty()) {
                index_events(std::move(events));
            } else if (!lagging.empty()) {
                catch_up(lagging);
            }
            cpu_us.inc(static_cast<std::uint64_t>((thread_cpu() - cpu_before).count()));
        }
    }

    // Conversations dropped from the log: their entries and positions go. A failure puts
    // them back for the next turn, after a pause.
    void drop_conversations(std::vector<std::string> cids) {
        storage::search_batch batch;
        batch.forget = cids;
        if (auto st = index.apply(batch); !st) {
            errors.inc();
            infra::log::error("task", "search index cannot forget a deleted conversation",
                              {{"conversations", cids.size()}, {"error", st.error().message}});
            {
                std::lock_guard lock(mutex);
                if (stopping) {
                    // The next start forgets them: their positions are past the log's last_seq.
                    return;
                }
                to_forget.insert(to_forget.end(), cids.begin(), cids.end());
            }
            pause();
            return;
        }
        for (const auto& cid : cids) {
            positions.erase(cid);
        }
    }

    void forget_conversations(const std::vector<std::string>& cids) {
        batch_builder b;
        b.batch.forget = cids;
        for (const auto& cid : cids) {
            infra::log::warn("task", "search index is ahead of the message log; reindexing",
                             {{"conversation", cid}});
            b.reach[cid] = 0;
        }
        commit(b);
    }

    // Live messages, in commit order (per conversation: seq order).
    void index_events(std::vector<storage::stored_message> events) {
        {
            std::lock_guard lock(mutex);
            if (!dropped.empty()) {
                std::erase_if(events, [&](const storage::stored_message& m) {
                    return dropped.contains(m.conversation_id);
                });
            }
        }
        batch_builder b;
        for (auto& e : events) {
            const std::uint64_t pos = position_in(b, e.conversation_id);
            if (e.seq <= pos) {
                continue;  // taken in already (by the catch-up, or a redelivery)
            }
            if (e.seq > pos + 1) {
                // A gap: read it from the log now, unless it is large; a large one is the
                // catch-up's, in batches of its own (this event with it).
                const std::uint64_t gap = e.seq - pos - 1;
                if (b.messages + gap > 2 * options.max_batch ||
                    !read_range(b, e.conversation_id, pos, e.seq - 1)) {
                    mark_behind(e.conversation_id, e.seq);
                    continue;
                }
            }
            b.take(std::move(e));
        }
        commit(b);
    }

    // One catch-up step: up to max_batch messages of the `lagging` conversations, read from the
    // log and written in one transaction; what remains goes back to `behind`.
    void catch_up(const std::vector<std::pair<std::string, std::uint64_t>>& lagging) {
        batch_builder b;
        std::vector<std::pair<std::string, std::uint64_t>> unfinished;
        bool read_failed = false;
        for (const auto& [cid, known] : lagging) {
            const std::uint64_t target = std::max(known, log.last_seq(cid));
            const std::uint64_t pos = position_in(b, cid);
            if (pos >= target) {
                continue;
            }
            if (read_failed || b.messages >= options.max_batch) {
                unfinished.emplace_back(cid, target);
                continue;
            }
            const std::uint64_t upto = std::min(target, pos + (options.max_batch - b.messages));
            // What was read before a failure stays in `b`: it is contiguous from the position.
            read_failed = !read_range(b, cid, pos, upto);
            if (position_in(b, cid) < target) {
                unfinished.emplace_back(cid, target);
            }
        }
        const bool committed = commit(b);
        for (const auto& [cid, target] : unfinished) {
            mark_behind(cid, target);
        }
        if (read_failed && committed) {
            pause();  // the log is failing (or closing): do not spin on it
        }
    }

    // Waits retry_delay, or less when stopping.
    void pause() {
        std::unique_lock lock(mutex);
        wake.wait_for(lock, options.retry_delay, [&] { return stopping; });
    }

    // The position of `cid` including what `b` already takes in.
    std::uint64_t position_in(const batch_builder& b, const std::string& cid) const {
        if (auto it = b.reach.find(cid); it != b.reach.end()) {
            return it->second;
        }
        auto it = positions.find(cid);
        return it == positions.end() ? 0 : it->second;
    }

    // Reads seqs (after, upto] of `cid` from the log into `b`. False when the log failed or
    // did not have them all (which would be a bug: they were persisted).
    bool read_range(batch_builder& b, const std::string& cid, std::uint64_t after,
                    std::uint64_t upto) {
        while (after < upto) {
            result<storage::read_page> page = make_error(errc::internal, "not run");
            try {
                page = net::co_spawn(reads, log.read_after(cid, after, upto - after), net::use_future)
                           .get();
            } catch (const std::exception& e) {
                page = make_error(errc::internal, e.what());
            }
            if (!page) {
                errors.inc();
                infra::log::error("task", "search indexer cannot read the message log",
                                  {{"conversation", cid}, {"error", page.error().message}});
                return false;
            }
            if (page->messages.empty()) {
                return false;
            }
            for (const auto& m : page->messages) {
                if (m.seq <= after) {
                    continue;
                }
                if (m.seq > upto) {
                    break;
                }
                b.take(m);
                after = m.seq;
            }
        }
        return true;
    }

    // Writes `b` in one transaction and adopts its positions. On failure the conversations are
    // marked behind (their messages are in the log) and the thread waits retry_delay.
    bool commit(batch_builder& b) {
        if (b.empty()) {
            return true;
        }
        const std::size_t messages = b.messages;
        auto reach = b.reach;
        auto st = index.apply(b.finish());
        if (!st) {
            errors.inc();
            infra::log::error("task", "search index batch failed; retrying from the log",
                              {{"messages", messages}, {"error", st.error().message}});
            for (const auto& [cid, seq] : reach) {
                mark_behind(cid, seq);
            }
            pause();
            return false;
        }
        for (auto& [cid, seq] : reach) {
            positions[cid] = seq;
        }
        indexed.inc(messages);
        if (messages > 0) {
            batch_size.observe(static_cast<double>(messages));
        }
        return true;
    }
};

search_indexer::search_indexer(storage::message_log& log, storage::search_index& index,
                               const infra::clock& clock, infra::metrics_registry& metrics,
                               search_indexer_options options)
    : impl_(std::make_unique<impl>(log, index, clock, metrics, options)) {}

search_indexer::~search_indexer() { stop(); }

status search_indexer::start() { return impl_->start(); }

void search_indexer::stop() { impl_->stop(); }

void search_indexer::forget(const std::string& conversation_id) { impl_->forget(conversation_id); }

bool search_indexer::caught_up() const { return impl_->caught_up(); }

}  // namespace monochat::task
