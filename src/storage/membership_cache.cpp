// A membership cache in front of the social store. Entries are the sorted (user id, role)
// pairs of a group. Consistency: a change to a membership evicts the group and bumps a global
// epoch; a fill that started before a change (epoch moved meanwhile) answers its caller but is
// not kept, so a stale member list never outlives the change that made it stale.

#include <algorithm>
#include <list>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_store.hpp>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace monochat::storage {
namespace {

struct group_members {
    std::vector<std::uint64_t> ids;  // ascending
    std::vector<member_role> roles;  // parallel to ids
};

class membership_cache final : public social_store {
public:
    membership_cache(std::unique_ptr<social_store> inner, membership_cache_options options,
                     infra::metrics_registry& metrics)
        : inner_(std::move(inner)),
          options_(options),
          hits_(metrics.get_counter("monochat_membership_cache_hits_total",
                                    "Membership lookups answered from the cache.")),
          misses_(metrics.get_counter("monochat_membership_cache_misses_total",
                                      "Membership lookups that read the store.")) {
        metrics.gauge_callback("monochat_membership_cache_members",
                               "Member ids held by the membership cache.", {},
                               [this] {
                                   std::lock_guard lock(mutex_);
                                   return static_cast<double>(cached_ids_);
                               },
                               this);
        metrics_ = &metrics;
    }
    ~membership_cache() override { metrics_->remove_callbacks(this); }

    // ---- cached ----

    task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                    std::uint64_t user_id) override {
        auto m = co_await members(group_id);
        if (!m) {
            co_return m.error();
        }
        if (!*m) {
            co_return co_await inner_->member_role_of(group_id, user_id);
        }
        const auto& ids = (*m)->ids;
        const auto it = std::lower_bound(ids.begin(), ids.end(), user_id);
        if (it == ids.end() || *it != user_id) {
            co_return std::optional<member_role>{};
        }
        co_return std::optional<member_role>{(*m)->roles[static_cast<std::size_t>(it - ids.begin())]};
    }

    task<std::vector<std::uint64_t>> member_ids(std::uint64_t group_id, std::uint64_t after_user_id,
                                                std::size_t limit) override {
        auto m = co_await members(group_id);
        if (!m) {
            co_return m.error();
        }
        if (!*m) {
            co_return co_await inner_->member_ids(group_id, after_user_id, limit);
        }
        const auto& ids = (*m)->ids;
        const auto from = std::upper_bound(ids.begin(), ids.end(), after_user_id);
        const auto n = std::min<std::size_t>(limit, static_cast<std::size_t>(ids.end() - from));
        co_return std::vector<std::uint64_t>(from, from + static_cast<std::ptrdiff_t>(n));
    }

    task<std::uint64_t> member_count(std::uint64_t group_id) override {
        auto m = co_await members(group_id);
        if (!m) {
            co_return m.error();
        }
        if (!*m) {
            co_return co_await inner_->member_count(group_id);
        }
        co_return static_cast<std::uint64_t>((*m)->ids.size());
    }

    // ---- membership changes evict ----

    task<members_added> add_members(std::uint64_t group_id, std::vector<std::uint64_t> user_ids,
                                    std::int64_t joined_ms, std::uint64_t max_members) override {
        auto r = co_await inner_->add_members(group_id, std::move(user_ids), joined_ms, max_members);
        evict(group_id);
        co_return r;
    }
    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        auto r = co_await inner_->join_group(group_id, user_id, joined_ms, max_members);
        evict(group_id);
        co_return r;
    }
    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        auto r = co_await inner_->remove_member(group_id, user_id);
        evict(group_id);
        co_return r;
    }
    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        auto r = co_await inner_->set_member_role(group_id, user_id, role);
        evict(group_id);
        co_return r;
    }
    task<group_record> create_group(std::uint64_t group_id, std::string name, std::uint64_t owner_id,
                                    bool is_public, std::vector<std::uint64_t> member_ids,
                                    std::int64_t created_ms, std::uint64_t max_members) override {
        auto r = co_await inner_->create_group(group_id, std::move(name), owner_id, is_public,
                                               std::move(member_ids), created_ms, max_members);
        evict(group_id);  // a failed lookup of this id may have raced the creation
        co_return r;
    }

    // Deleting a user removes its memberships in every group: everything cached may be stale.
    task<void> delete_user(std::uint64_t user_id) override {
        auto r = co_await inner_->delete_user(user_id);
        evict_all();
        co_return r;
    }

    // ---- everything else: straight through ----

    task<std::vector<user_record>> list_users(std::uint64_t after, std::size_t limit) override {
        return inner_->list_users(after, limit);
    }
    task<void> set_suspended(std::uint64_t user_id, bool suspended) override {
        return inner_->set_suspended(user_id, suspended);
    }

    task<user_record> create_user(user_record user) override { return inner_->create_user(std::move(user)); }
    task<user_record> get_user(std::uint64_t id) override { return inner_->get_user(id); }
    task<user_record> get_user_by_username(std::string u) override {
        return inner_->get_user_by_username(std::move(u));
    }
    task<std::vector<user_record>> get_users(std::vector<std::uint64_t> ids) override {
        return inner_->get_users(std::move(ids));
    }
    task<std::vector<user_record>> search_users(std::string prefix, std::size_t limit) override {
        return inner_->search_users(std::move(prefix), limit);
    }
    task<user_record> update_display_name(std::uint64_t id, std::string name) override {
        return inner_->update_display_name(id, std::move(name));
    }
    task<void> create_token(token_record t) override { return inner_->create_token(std::move(t)); }
    task<token_record> lookup_token(std::string h) override { return inner_->lookup_token(std::move(h)); }
    task<void> delete_token(std::string h) override { return inner_->delete_token(std::move(h)); }
    task<std::uint64_t> delete_user_tokens(std::uint64_t id) override { return inner_->delete_user_tokens(id); }
    task<std::uint64_t> delete_expired_tokens(std::int64_t now, std::size_t limit) override {
        return inner_->delete_expired_tokens(now, limit);
    }
    task<void> touch_user(std::uint64_t user_id, std::int64_t now_ms) override {
        return inner_->touch_user(user_id, now_ms);
    }
    task<std::vector<std::uint64_t>> idle_guests(std::int64_t seen_before_ms,
                                                 std::size_t limit) override {
        return inner_->idle_guests(seen_before_ms, limit);
    }
    // Guests are members of no group, so no cached member list changes; evicted anyway, as
    // delete_user does, in case one ever is.
    task<std::vector<std::uint64_t>> purge_guests(std::vector<std::uint64_t> user_ids,
                                                  std::int64_t seen_before_ms,
                                                  std::int64_t now_ms) override {
        auto r = co_await inner_->purge_guests(std::move(user_ids), seen_before_ms, now_ms);
        if (r && !r->empty()) {
            evict_all();
        }
        co_return r;
    }
    task<bool> is_deleted_user(std::uint64_t user_id) override {
        return inner_->is_deleted_user(user_id);
    }
    task<send_friend_request_result> send_friend_request(std::uint64_t id, std::uint64_t from,
                                                         std::uint64_t to, std::string note,
                                                         std::int64_t now) override {
        return inner_->send_friend_request(id, from, to, std::move(note), now);
    }
    task<friend_request_record> get_friend_request(std::uint64_t id) override {
        return inner_->get_friend_request(id);
    }
    task<friend_request_record> accept_friend_request(std::uint64_t id, std::uint64_t actor,
                                                      std::int64_t now) override {
        return inner_->accept_friend_request(id, actor, now);
    }
    task<friend_request_record> reject_friend_request(std::uint64_t id, std::uint64_t actor,
                                                      std::int64_t now) override {
        return inner_->reject_friend_request(id, actor, now);
    }
    task<friend_requests> list_friend_requests(std::uint64_t id) override {
        return inner_->list_friend_requests(id);
    }
    task<std::vector<user_record>> list_friends(std::uint64_t id) override { return inner_->list_friends(id); }
    task<bool> are_friends(std::uint64_t a, std::uint64_t b) override { return inner_->are_friends(a, b); }
    task<void> remove_friend(std::uint64_t a, std::uint64_t b) override { return inner_->remove_friend(a, b); }
    task<group_record> get_group(std::uint64_t id) override { return inner_->get_group(id); }
    task<member_page> list_members(std::uint64_t id, std::uint64_t after, std::size_t limit) override {
        return inner_->list_members(id, after, limit);
    }
    task<std::vector<user_group>> groups_of_user(std::uint64_t id) override {
        return inner_->groups_of_user(id);
    }
    task<group_directory_page> public_groups(std::string q, std::uint64_t after,
                                             std::size_t limit) override {
        return inner_->public_groups(std::move(q), after, limit);
    }
    task<void> record_direct_message(std::uint64_t a, std::uint64_t b, std::int64_t ms) override {
        return inner_->record_direct_message(a, b, ms);
    }
    task<std::vector<direct_conversation>> direct_conversations(std::uint64_t id) override {
        return inner_->direct_conversations(id);
    }
    task<bool> set_read_position(std::uint64_t user, std::string cid, std::uint64_t seq,
                                 std::int64_t now) override {
        return inner_->set_read_position(user, std::move(cid), seq, now);
    }
    task<std::uint64_t> get_read_position(std::uint64_t user, std::string cid) override {
        return inner_->get_read_position(user, std::move(cid));
    }
    task<std::vector<read_position>> read_positions(std::uint64_t user) override {
        return inner_->read_positions(user);
    }
    task<readers_result> conversation_readers(std::string cid, std::uint64_t seq, std::size_t limit,
                                              std::optional<std::uint64_t> group) override {
        return inner_->conversation_readers(std::move(cid), seq, limit, group);
    }

    task<void> set_muted_until(std::uint64_t user, std::string cid, std::int64_t until) override {
        return inner_->set_muted_until(user, std::move(cid), until);
    }
    task<std::vector<conversation_setting>> conversation_settings(std::uint64_t user) override {
        return inner_->conversation_settings(user);
    }

    task<std::uint64_t> add_mentions(std::string cid, std::uint64_t seq,
                                     std::vector<std::uint64_t> users,
                                     std::optional<std::uint64_t> group) override {
        return inner_->add_mentions(std::move(cid), seq, std::move(users), group);
    }
    task<std::uint64_t> remove_mentions(std::string cid, std::uint64_t seq) override {
        return inner_->remove_mentions(std::move(cid), seq);
    }
    task<std::vector<mention_count>> unread_mentions(std::uint64_t user) override {
        return inner_->unread_mentions(user);
    }
    task<void> backup_to(std::string path) override { return inner_->backup_to(std::move(path)); }

private:
    using entry_ptr = std::shared_ptr<const group_members>;

    // The group's members from the cache or the store; a null pointer when the group is too
    // large to cache (the caller asks the store itself).
    boost::asio::awaitable<result<entry_ptr>> members(std::uint64_t group_id) {
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mutex_);
            if (auto it = entries_.find(group_id); it != entries_.end()) {
                lru_.splice(lru_.begin(), lru_, it->second.lru);
                hits_.inc();
                co_return it->second.members;
            }
            if (too_large_.count(group_id) != 0) {
                co_return entry_ptr{};
            }
            epoch = epoch_;
        }
        misses_.inc();
        auto fresh = std::make_shared<group_members>();
        std::uint64_t after = 0;
        constexpr std::size_t page = 1000;
        for (;;) {
            auto p = co_await inner_->list_members(group_id, after, page);
            if (!p) {
                co_return p.error();
            }
            for (const auto& m : p->members) {
                fresh->ids.push_back(m.user_id);
                fresh->roles.push_back(m.role);
            }
            if (fresh->ids.size() > options_.max_group_size) {
                std::lock_guard lock(mutex_);
                if (too_large_.size() > options_.max_groups) {
                    too_large_.clear();
                }
                if (epoch_ == epoch) {
                    too_large_.insert(group_id);
                }
                co_return entry_ptr{};
            }
            if (!p->next) {
                break;
            }
            after = *p->next;
        }
        entry_ptr result = std::move(fresh);
        std::lock_guard lock(mutex_);
        if (epoch_ == epoch && entries_.count(group_id) == 0) {
            lru_.push_front(group_id);
            entries_.emplace(group_id, slot{result, lru_.begin()});
            cached_ids_ += result->ids.size();
            while (!lru_.empty() && (entries_.size() > options_.max_groups ||
                                     cached_ids_ > options_.max_members)) {
                drop_locked(lru_.back());
            }
        }
        co_return result;
    }

    void evict(std::uint64_t group_id) {
        std::lock_guard lock(mutex_);
        ++epoch_;
        too_large_.erase(group_id);
        if (entries_.count(group_id) != 0) {
            drop_locked(group_id);
        }
    }

    void evict_all() {
        std::lock_guard lock(mutex_);
        ++epoch_;
        too_large_.clear();
        entries_.clear();
        lru_.clear();
        cached_ids_ = 0;
    }

    void drop_locked(std::uint64_t group_id) {
        auto it = entries_.find(group_id);
        cached_ids_ -= it->second.members->ids.size();
        lru_.erase(it->second.lru);
        entries_.erase(it);
    }

    struct slot {
        entry_ptr members;
        std::list<std::uint64_t>::iterator lru;
    };

    std::unique_ptr<social_store> inner_;
    membership_cache_options options_;
    infra::metrics_registry* metrics_ = nullptr;
    infra::counter& hits_;
    infra::counter& misses_;
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, slot> entries_;
    std::unordered_set<std::uint64_t> too_large_;
    std::list<std::uint64_t> lru_;
    std::size_t cached_ids_ = 0;
    std::uint64_t epoch_ = 0;
};

}  // namespace

std::unique_ptr<social_store> make_membership_cache(std::unique_ptr<social_store> inner,
                                                    membership_cache_options options,
                                                    infra::metrics_registry& metrics) {
    return std::make_unique<membership_cache>(std::move(inner), options, metrics);
}

}  // namespace monochat::storage
