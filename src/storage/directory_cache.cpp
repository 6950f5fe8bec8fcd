// The directory cache in front of the social store's users and relations roles (user_store,
// relation_store): user records by id and friendships by pair, so that a direct chat's send (both users exist, neither is a guest, they are friends)
// is answered from memory, with no SQLite round trip on the send path.
//
// Consistency, as in membership_cache.cpp: every call that changes what is cached evicts it
// after the store committed, and bumps the cache's epoch; a fill that started before a change
// (the epoch moved meanwhile) answers its caller but is not kept, so a stale entry never
// outlives the change that made it stale. What changes a user record, in the users role:
// update_display_name, update_profile, set_password_hash, consume_password_reset (and
// create_user, create_invited_user, create_user_with_token, for a fill that raced it). What
// changes a friendship, in the relations role: send_friend_request (a crossing request makes
// friends), accept_friend_request, remove_friend, block_user. The two facades below wrap those
// calls. Changes made through other roles reach the cache as notifications after their commit
// (social_changes.hpp): a suspension (admin_store::set_suspended) evicts the user, and
// deleting users (delete_user, delete_account, purge_guests: their friendships go with them)
// evicts everything. A new call that changes either must evict here too.
//
// Misses are not cached (a user that does not exist is asked for again): only sends naming
// unknown users pay the store, and those are refused.

#include <list>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_changes.hpp>
#include <monochat/storage/social_stores.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "storage/forwarding_stores.hpp"

namespace monochat::storage {
namespace {

// A bounded least-recently-used map, not thread-safe (the cache locks around it).
template <class Key, class Value, class Hash = std::hash<Key>>
class lru_map {
public:
    explicit lru_map(std::size_t capacity) : capacity_(capacity) {}

    const Value* find(const Key& k) {
        auto it = entries_.find(k);
        if (it == entries_.end()) {
            return nullptr;
        }
        order_.splice(order_.begin(), order_, it->second.position);
        return &it->second.value;
    }

    void put(const Key& k, Value v) {
        if (capacity_ == 0) {
            return;
        }
        if (auto it = entries_.find(k); it != entries_.end()) {
            it->second.value = std::move(v);
            order_.splice(order_.begin(), order_, it->second.position);
            return;
        }
        order_.push_front(k);
        entries_.emplace(k, slot{std::move(v), order_.begin()});
        if (entries_.size() > capacity_) {
            entries_.erase(order_.back());
            order_.pop_back();
        }
    }

    void erase(const Key& k) {
        if (auto it = entries_.find(k); it != entries_.end()) {
            order_.erase(it->second.position);
            entries_.erase(it);
        }
    }

    void clear() {
        entries_.clear();
        order_.clear();
    }

    std::size_t size() const { return entries_.size(); }

private:
    struct slot {
        Value value;
        typename std::list<Key>::iterator position;
    };
    std::size_t capacity_;
    std::list<Key> order_;  // most recently used first
    std::unordered_map<Key, slot, Hash> entries_;
};

struct pair_hash {
    std::size_t operator()(const std::pair<std::uint64_t, std::uint64_t>& p) const noexcept {
        return std::hash<std::uint64_t>{}(p.first * 0x9E3779B97F4A7C15ULL ^ p.second);
    }
};

using user_pair = std::pair<std::uint64_t, std::uint64_t>;  // (low, high)

user_pair ordered(std::uint64_t a, std::uint64_t b) { return a < b ? user_pair{a, b} : user_pair{b, a}; }

// What both facades share: the entries, their epoch and the metrics. Also what the send path
// reads without waiting (directory_snapshots) and what other roles' changes evict.
class directory_state final : public directory_snapshots, public social_change_listener {
public:
    directory_state(directory_cache_options options, social_change_hub& changes,
                    infra::metrics_registry& metrics)
        : users_(options.max_users),
          friendships_(options.max_friendships),
          changes_(changes),
          metrics_(metrics),
          hits_(metrics.get_counter("monochat_directory_cache_hits_total",
                                    "User and friendship lookups answered from the cache.")),
          misses_(metrics.get_counter("monochat_directory_cache_misses_total",
                                      "User and friendship lookups that read the store.")) {
        metrics.gauge_callback("monochat_directory_cache_entries",
                               "Users and friendships held by the directory cache.", {},
                               [this] {
                                   std::lock_guard lock(mutex_);
                                   return static_cast<double>(users_.size() + friendships_.size());
                               },
                               this);
        changes_.subscribe(*this);
    }
    ~directory_state() override {
        changes_.unsubscribe(*this);
        metrics_.remove_callbacks(this);
    }
    directory_state(const directory_state&) = delete;
    directory_state& operator=(const directory_state&) = delete;

    // ---- cached ----

    store_task<user_record> get_user(user_store& inner, std::uint64_t user_id) {
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mutex_);
            if (const auto* u = users_.find(user_id)) {
                hits_.inc();
                co_return *u;
            }
            epoch = epoch_;
        }
        misses_.inc();
        auto r = co_await inner.get_user(user_id);
        if (r) {
            keep_user(*r, epoch);
        }
        co_return r;
    }

    store_task<std::vector<user_record>> get_users(user_store& inner,
                                                   std::vector<std::uint64_t> user_ids) {
        std::vector<user_record> out;
        std::vector<std::uint64_t> missing;
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mutex_);
            out.reserve(user_ids.size());
            for (const auto id : user_ids) {
                if (const auto* u = users_.find(id)) {
                    out.push_back(*u);
                } else {
                    missing.push_back(id);
                }
            }
            epoch = epoch_;
        }
        if (missing.empty()) {
            hits_.inc();
            co_return out;
        }
        misses_.inc();
        // Asked for in full, so that the answer keeps the order asked (unknown ids skipped).
        auto r = co_await inner.get_users(std::move(user_ids));
        if (r) {
            for (const auto& u : *r) {
                keep_user(u, epoch);
            }
        }
        co_return r;
    }

    store_task<bool> are_friends(relation_store& inner, std::uint64_t a, std::uint64_t b) {
        const auto key = ordered(a, b);
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mutex_);
            if (const auto* f = friendships_.find(key)) {
                hits_.inc();
                co_return *f;
            }
            epoch = epoch_;
        }
        misses_.inc();
        auto r = co_await inner.are_friends(a, b);
        if (r) {
            std::lock_guard lock(mutex_);
            if (epoch_ == epoch) {
                friendships_.put(key, *r);
            }
        }
        co_return r;
    }

    std::optional<bool> cached_guest(std::uint64_t user_id) override {
        std::lock_guard lock(mutex_);
        if (const auto* u = users_.find(user_id)) {
            hits_.inc();
            return u->guest;
        }
        return std::nullopt;
    }

    std::optional<bool> cached_friendship(std::uint64_t a, std::uint64_t b) override {
        std::lock_guard lock(mutex_);
        if (const auto* f = friendships_.find(ordered(a, b))) {
            hits_.inc();
            return *f;
        }
        return std::nullopt;
    }

    // ---- changes made through other roles (social_changes.hpp) ----

    void users_removed() noexcept override { evict_all(); }
    void user_changed(std::uint64_t user_id) noexcept override { evict_user(user_id); }

    // ---- eviction ----

    void evict_user(std::uint64_t user_id) {
        std::lock_guard lock(mutex_);
        ++epoch_;
        users_.erase(user_id);
    }
    void evict_friendship(std::uint64_t a, std::uint64_t b) {
        std::lock_guard lock(mutex_);
        ++epoch_;
        friendships_.erase(ordered(a, b));
    }
    void evict_all() {
        std::lock_guard lock(mutex_);
        ++epoch_;
        users_.clear();
        friendships_.clear();
    }

private:
    void keep_user(const user_record& u, std::uint64_t epoch) {
        std::lock_guard lock(mutex_);
        if (epoch_ == epoch) {
            users_.put(u.id, u);
        }
    }

    std::mutex mutex_;
    lru_map<std::uint64_t, user_record> users_;
    lru_map<user_pair, bool, pair_hash> friendships_;
    std::uint64_t epoch_ = 0;
    social_change_hub& changes_;
    infra::metrics_registry& metrics_;
    infra::counter& hits_;
    infra::counter& misses_;
};

// The users role through the cache.
class cached_user_store final : public detail::forwarding_user_store {
public:
    cached_user_store(std::unique_ptr<user_store> inner, std::shared_ptr<directory_state> state)
        : forwarding_user_store(std::move(inner)), state_(std::move(state)) {}

    task<user_record> get_user(std::uint64_t user_id) override {
        return state_->get_user(inner_users(), user_id);
    }
    task<std::vector<user_record>> get_users(std::vector<std::uint64_t> user_ids) override {
        return state_->get_users(inner_users(), std::move(user_ids));
    }

    // ---- changes evict ----

    task<user_record> create_user(user_record user) override {
        const auto id = user.id;
        auto r = co_await inner_users().create_user(std::move(user));
        state_->evict_user(id);
        co_return r;
    }
    task<user_record> create_invited_user(user_record user, std::string code,
                                          std::int64_t now) override {
        const auto id = user.id;
        auto r = co_await inner_users().create_invited_user(std::move(user), std::move(code), now);
        state_->evict_user(id);
        co_return r;
    }
    task<user_record> create_user_with_token(user_record user, token_record token) override {
        const auto id = user.id;
        auto r = co_await inner_users().create_user_with_token(std::move(user), std::move(token));
        state_->evict_user(id);
        co_return r;
    }
    task<user_record> update_display_name(std::uint64_t user_id, std::string name) override {
        auto r = co_await inner_users().update_display_name(user_id, std::move(name));
        state_->evict_user(user_id);
        co_return r;
    }
    task<user_record> update_profile(std::uint64_t user_id, profile_update change) override {
        auto r = co_await inner_users().update_profile(user_id, std::move(change));
        state_->evict_user(user_id);
        co_return r;
    }
    // The record holds the password hash, which a password change checks against.
    task<std::vector<std::string>> set_password_hash(std::uint64_t user_id, std::string hash,
                                                     std::string keep) override {
        auto r = co_await inner_users().set_password_hash(user_id, std::move(hash), std::move(keep));
        state_->evict_user(user_id);
        co_return r;
    }
    task<user_record> consume_password_reset(std::string reset_hash, std::int64_t now,
                                             std::string hash) override {
        auto r = co_await inner_users().consume_password_reset(std::move(reset_hash), now,
                                                               std::move(hash));
        if (r) {
            state_->evict_user(r->id);
        }
        co_return r;
    }

private:
    std::shared_ptr<directory_state> state_;
};

// The relations role through the cache.
class cached_relation_store final : public detail::forwarding_relation_store {
public:
    cached_relation_store(std::unique_ptr<relation_store> inner,
                          std::shared_ptr<directory_state> state)
        : forwarding_relation_store(std::move(inner)), state_(std::move(state)) {}

    task<bool> are_friends(std::uint64_t a, std::uint64_t b) override {
        return state_->are_friends(inner_relations(), a, b);
    }

    // ---- changes evict ----

    task<send_friend_request_result> send_friend_request(std::uint64_t id, std::uint64_t from,
                                                         std::uint64_t to, std::string note,
                                                         std::int64_t now) override {
        auto r = co_await inner_relations().send_friend_request(id, from, to, std::move(note), now);
        state_->evict_friendship(from, to);
        co_return r;
    }
    task<friend_request_record> accept_friend_request(std::uint64_t id, std::uint64_t actor,
                                                      std::int64_t now) override {
        auto r = co_await inner_relations().accept_friend_request(id, actor, now);
        if (r) {
            state_->evict_friendship(r->from_user_id, r->to_user_id);
        } else {
            state_->evict_all();  // which pair it was is not known here; failures are rare
        }
        co_return r;
    }
    // A block ends the friendship of the pair.
    task<void> block_user(std::uint64_t a, std::uint64_t b, std::int64_t now) override {
        auto r = co_await inner_relations().block_user(a, b, now);
        state_->evict_friendship(a, b);
        co_return r;
    }
    task<void> remove_friend(std::uint64_t a, std::uint64_t b) override {
        auto r = co_await inner_relations().remove_friend(a, b);
        state_->evict_friendship(a, b);
        co_return r;
    }

private:
    std::shared_ptr<directory_state> state_;
};

}  // namespace

directory_cached_stores make_directory_cache(std::unique_ptr<user_store> users,
                                             std::unique_ptr<relation_store> relations,
                                             social_change_hub& changes,
                                             directory_cache_options options,
                                             infra::metrics_registry& metrics) {
    auto state = std::make_shared<directory_state>(options, changes, metrics);
    directory_cached_stores out;
    out.snapshots = state.get();
    out.users = std::make_unique<cached_user_store>(std::move(users), state);
    out.relations = std::make_unique<cached_relation_store>(std::move(relations), std::move(state));
    return out;
}

}  // namespace monochat::storage
