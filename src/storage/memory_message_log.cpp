// The in-memory message log: the shared group-commit writer over containers instead of disk.
// Same contract as the RocksDB log (the contract tests run against both); nothing survives
// destruction. Reads never wait for I/O, so they are answered on the caller's thread.

#include <cstdlib>
#include <deque>
#include <map>
#include <monochat/infra/log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <shared_mutex>

#include "storage/group_commit_log.hpp"
#include "storage/message_log_faults.hpp"

namespace monochat::storage {

namespace {

namespace net = boost::asio;
using detail::read_range;

class memory_message_log final : public detail::group_commit_log {
public:
    memory_message_log(const message_log_options& options, std::shared_ptr<write_faults> faults)
        : group_commit_log(options), faults_(std::move(faults)) {
        start({});
    }

    ~memory_message_log() override { close(); }

    net::awaitable<result<read_page>> read_after(std::string conversation_id,
                                                 std::uint64_t after_seq,
                                                 std::size_t limit) override {
        co_return read(conversation_id, plan_after(conversation_id, after_seq, limit));
    }

    net::awaitable<result<read_page>> read_before(std::string conversation_id,
                                                  std::uint64_t before_seq,
                                                  std::size_t limit) override {
        co_return read(conversation_id, plan_before(conversation_id, before_seq, limit));
    }

    net::awaitable<result<read_page>> read_latest(std::string conversation_id,
                                                  std::size_t limit) override {
        co_return read(conversation_id, plan_latest(conversation_id, limit));
    }

    net::awaitable<result<stored_message>> get(std::string conversation_id,
                                               std::uint64_t seq) override {
        if (seq == 0 || seq > last_seq(conversation_id)) {
            co_return make_error(errc::not_found, "no such message");
        }
        auto found = find(conversation_id, seq);
        if (!found) {
            co_return make_error(errc::not_found, "no such message");
        }
        co_return std::move(*found);
    }

    net::awaitable<result<reaction_users_page>> reaction_users(std::string conversation_id,
                                                               std::uint64_t seq,
                                                               std::string emoji,
                                                               std::uint64_t after_user_id,
                                                               std::size_t limit) override {
        co_return read_reaction_users(conversation_id, seq, emoji, after_user_id, limit);
    }

    net::awaitable<result<std::vector<bool>>> has_reacted(
        std::string conversation_id, std::uint64_t user_id,
        std::vector<std::pair<std::uint64_t, std::string>> keys) override {
        co_return read_has_reacted(conversation_id, user_id, keys);
    }

    result<std::optional<std::string>> index_get(const std::string& key) override {
        std::shared_lock lock(store_mutex_);
        const auto it = index_.find(key);
        return it == index_.end() ? std::nullopt : std::optional<std::string>(it->second);
    }

    result<std::vector<std::pair<std::string, std::string>>> index_scan(
        const std::string& from, const std::string& end, std::size_t limit) override {
        std::shared_lock lock(store_mutex_);
        std::vector<std::pair<std::string, std::string>> out;
        for (auto it = index_.lower_bound(from); it != index_.end() && it->first < end &&
                                                 out.size() < limit;
             ++it) {
            out.emplace_back(it->first, it->second);
        }
        return out;
    }

    status checkpoint(const std::string&) override {
        return make_error(errc::unavailable, "the memory message log keeps nothing to copy");
    }

protected:
    result<std::vector<std::optional<codec::idempotency_record>>> engine_find_idempotency(
        const std::vector<std::string>& keys) override {
        std::vector<std::optional<codec::idempotency_record>> out;
        out.reserve(keys.size());
        for (const auto& key : keys) {
            const auto it = idempotency_.find(key);
            out.push_back(it == idempotency_.end()
                              ? std::nullopt
                              : std::optional<codec::idempotency_record>(it->second));
        }
        return out;
    }

    result<std::optional<stored_message>> engine_load(const std::string& conversation_id,
                                                      std::uint64_t seq) override {
        return find(conversation_id, seq);
    }

    status engine_write(const detail::commit_batch& batch) override {
        if (faults_ && faults_->fail_write()) {
            return make_error(errc::unavailable, "injected fault: no space left on device");
        }
        {
            std::unique_lock lock(store_mutex_);
            for (const auto& m : batch.new_messages) {
                auto& messages = store_[m.conversation_id];
                // The writer assigns seqs contiguously, so a new message is always the next;
                // anything else is a bug in the writer, not a condition to recover from.
                if (messages.size() + 1 != m.seq) {
                    infra::log::error("storage", "memory log: seq out of order",
                                      {{"conversation", m.conversation_id}, {"seq", m.seq}});
                    std::abort();
                }
                messages.push_back(m);
            }
            for (const auto& m : batch.updated_targets) {
                store_[m.conversation_id][m.seq - 1] = m;
            }
            for (const auto& op : batch.reaction_ops) {
                switch (op.what) {
                    case detail::index_op::kind::put: index_[op.key] = op.value; break;
                    case detail::index_op::kind::erase: index_.erase(op.key); break;
                    case detail::index_op::kind::erase_range:
                        index_.erase(index_.lower_bound(op.key), index_.lower_bound(op.value));
                        break;
                }
            }
        }
        for (const auto& [key, record] : batch.idempotency) {
            idempotency_.insert_or_assign(key, record);
            expiry_.emplace_back(record.written_at_ms, key);
        }
        expire_idempotency();
        return {};
    }

    status engine_drop(const std::string& conversation_id) override {
        if (faults_ && faults_->fail_write()) {
            return make_error(errc::unavailable, "injected fault: no space left on device");
        }
        std::unique_lock lock(store_mutex_);
        store_.erase(conversation_id);
        index_.erase(index_.lower_bound(codec::conversation_begin(conversation_id)),
                     index_.lower_bound(codec::conversation_end(conversation_id)));
        return {};
    }

    // Nothing here survives the process, the read state included (the composition root starts
    // a memory log with a fresh social store), so there is never anything to hand over.
    result<std::vector<sent_record>> unsettled_sent() const override {
        return std::vector<sent_record>{};
    }
    status settle_sent(const std::vector<std::uint64_t>&) override { return {}; }

private:
    std::optional<stored_message> find(const std::string& conversation_id,
                                       std::uint64_t seq) const {
        std::shared_lock lock(store_mutex_);
        const auto it = store_.find(conversation_id);
        if (it == store_.end() || seq == 0 || seq > it->second.size()) {
            return std::nullopt;
        }
        return it->second[seq - 1];
    }

    result<read_page> read(const std::string& conversation_id,
                           const result<read_range>& range) const {
        if (!range) {
            return range.error();
        }
        read_page page;
        page.has_more = range->has_more;
        if (range->empty()) {
            return page;
        }
        page.messages.reserve(range->size());
        std::shared_lock lock(store_mutex_);
        const auto it = store_.find(conversation_id);
        if (it == store_.end() || it->second.size() < range->last) {
            if (last_seq(conversation_id) < range->last) {
                // Dropped after the read was planned.
                return make_error(errc::not_found, "the conversation was deleted");
            }
            return make_error(errc::internal, "memory log: committed messages missing");
        }
        for (std::uint64_t seq = range->first; seq <= range->last; ++seq) {
            page.messages.push_back(it->second[seq - 1]);
        }
        return page;
    }

    // Drops entries older than the window, oldest first; an entry rewritten since (its key
    // reused after expiry) has a newer written_at and stays.
    void expire_idempotency() {
        const std::int64_t horizon = clock().now_ms() - options().idempotency_window_s * 1000;
        while (!expiry_.empty() && expiry_.front().first < horizon) {
            const auto it = idempotency_.find(expiry_.front().second);
            if (it != idempotency_.end() && it->second.written_at_ms == expiry_.front().first) {
                idempotency_.erase(it);
            }
            expiry_.pop_front();
        }
    }

    std::shared_ptr<write_faults> faults_;

    mutable std::shared_mutex store_mutex_;
    // Messages of each conversation; index seq - 1.
    std::unordered_map<std::string, std::deque<stored_message>> store_;
    // The reaction index (reaction_index.hpp), ordered like RocksDB's bytewise keys.
    std::map<std::string, std::string> index_;

    // Writer thread only.
    std::unordered_map<std::string, codec::idempotency_record> idempotency_;
    std::deque<std::pair<std::int64_t, std::string>> expiry_;
};

}  // namespace

std::unique_ptr<message_log> make_memory_message_log(const message_log_options& options,
                                                     std::shared_ptr<write_faults> faults) {
    return std::make_unique<memory_message_log>(options, std::move(faults));
}

std::unique_ptr<message_log> make_memory_message_log(const message_log_options& options) {
    return make_memory_message_log(options, nullptr);
}

}  // namespace monochat::storage
