// A membership cache in front of the social store's groups role (group_store). Entries are the sorted (user id, role)
// pairs of a group. One fill per group runs at a time; lookups meanwhile ask the store their
// own question (a point query), instead of each reading the whole group again. Consistency: a
// fill during which its group was evicted (or everything was, by a global epoch) answers its
// caller but is not kept, so a stale member list never outlives the change that made it stale;
// joins and leaves committed during a fill are applied to its result before it is kept.
//
// A committed join, add or leave is applied to the cached list (a new list: readers keep the
// one they hold) instead of evicting it: evicting a 100,000-member group made the next send
// read it again, page by page, and every fan-out meanwhile read it shard by shard from SQLite
// (docs/benchmarks.md, "100,000-member group"). Changes of different users commute, so they
// are applied in whatever order they finish. Changes of one user do not (a join and a leave):
// applying them is right only in commit order, which holds when no other change of the same
// user in the same group overlapped this one in time (each change's commit and its apply lie
// inside its own interval). Overlapping changes of one user evict instead, as do role changes
// and failed calls. (Before, any two overlapping changes of a group evicted it: with a few
// joins and leaves a second in a 100,000-member group, it was read again all the time.)

#include <algorithm>
#include <list>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_changes.hpp>
#include <monochat/storage/social_stores.hpp>
#include <mutex>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "storage/forwarding_stores.hpp"

namespace monochat::storage {
namespace {

struct group_members {
    std::vector<std::uint64_t> ids;  // ascending
    std::vector<member_role> roles;  // parallel to ids
};

class membership_cache final : public detail::forwarding_group_store,
                               public member_snapshots,
                               public social_change_listener {
public:
    membership_cache(std::unique_ptr<group_store> inner, social_change_hub& changes,
                     membership_cache_options options, infra::metrics_registry& metrics)
        : forwarding_group_store(std::move(inner)),
          hub_(changes),
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
        hub_.subscribe(*this);
    }
    ~membership_cache() override {
        hub_.unsubscribe(*this);
        metrics_->remove_callbacks(this);
    }

    // ---- cached ----

    task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                    std::uint64_t user_id) override {
        auto m = co_await members(group_id);
        if (!m) {
            co_return m.error();
        }
        if (!*m) {
            co_return co_await inner_groups().member_role_of(group_id, user_id);
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
            co_return co_await inner_groups().member_ids(group_id, after_user_id, limit);
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
            co_return co_await inner_groups().member_count(group_id);
        }
        co_return static_cast<std::uint64_t>((*m)->ids.size());
    }

    std::shared_ptr<const std::vector<std::uint64_t>> cached_member_ids(
        std::uint64_t group_id) override {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(group_id);
        if (it == entries_.end()) {
            return nullptr;
        }
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        hits_.inc();
        const auto& members = it->second.members;
        // Aliasing: shares ownership of the cache entry, points at its ids.
        return std::shared_ptr<const std::vector<std::uint64_t>>(members, &members->ids);
    }

    // ---- membership changes evict ----

    task<members_added> add_members(std::uint64_t group_id, std::vector<std::uint64_t> user_ids,
                                    std::int64_t joined_ms, std::uint64_t max_members) override {
        change_scope scope(*this, group_id, user_ids);
        auto r = co_await inner_groups().add_members(group_id, std::move(user_ids), joined_ms, max_members);
        if (r) {
            apply(scope, r->user_ids, std::nullopt);
        } else {
            evict(group_id);
        }
        co_return r;
    }
    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        change_scope scope(*this, group_id, {&user_id, 1});
        auto r = co_await inner_groups().join_group(group_id, user_id, joined_ms, max_members);
        if (r) {
            apply(scope, r->user_ids, std::nullopt);
        } else {
            evict(group_id);
        }
        co_return r;
    }
    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        change_scope scope(*this, group_id, {&user_id, 1});
        auto r = co_await inner_groups().remove_member(group_id, user_id);
        if (r) {
            apply(scope, {}, user_id);
        } else {
            evict(group_id);
        }
        co_return r;
    }
    task<group_ban_result> ban_member(std::uint64_t group_id, std::uint64_t user_id,
                                      std::uint64_t banned_by, std::int64_t now_ms) override {
        change_scope scope(*this, group_id, {&user_id, 1});
        auto r = co_await inner_groups().ban_member(group_id, user_id, banned_by, now_ms);
        if (r) {
            apply(scope, {}, r->was_member ? std::optional<std::uint64_t>(user_id) : std::nullopt);
        } else {
            evict(group_id);
        }
        co_return r;
    }
    task<members_added> join_by_invite(std::uint64_t group_id, std::string code,
                                       std::uint64_t user_id, std::int64_t now_ms,
                                       std::uint64_t max_members) override {
        change_scope scope(*this, group_id, {&user_id, 1});
        auto r = co_await inner_groups().join_by_invite(group_id, std::move(code), user_id, now_ms,
                                                 max_members);
        if (r) {
            apply(scope, r->user_ids, std::nullopt);
        } else {
            evict(group_id);
        }
        co_return r;
    }
    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        auto r = co_await inner_groups().set_member_role(group_id, user_id, role);
        evict(group_id);
        co_return r;
    }
    task<group_record> create_group(std::uint64_t group_id, std::string name, std::uint64_t owner_id,
                                    bool is_public, std::vector<std::uint64_t> member_ids,
                                    std::int64_t created_ms, std::uint64_t max_members) override {
        auto r = co_await inner_groups().create_group(group_id, std::move(name), owner_id, is_public,
                                               std::move(member_ids), created_ms, max_members);
        evict(group_id);  // a failed lookup of this id may have raced the creation
        co_return r;
    }

    task<deleted_group> delete_group(std::uint64_t group_id, std::uint64_t owner_id,
                                     std::int64_t now_ms) override {
        auto r = co_await inner_groups().delete_group(group_id, owner_id, now_ms);
        evict(group_id);  // a fill racing the delete reads no group, or is not kept
        co_return r;
    }

private:
    // ---- changes made through the users role (social_changes.hpp) ----

    // Deleting a user removes its memberships in every group: everything cached may be stale.
    // (Guests, whom purge_guests removes, are members of no group; evicted anyway.)
    void users_removed() noexcept override { evict_all(); }
    // Member lists hold no user records.
    void user_changed(std::uint64_t) noexcept override {}

    using entry_ptr = std::shared_ptr<const group_members>;

    // The group's members from the cache or the store; a null pointer when the group is too
    // large to cache, or while another caller fills it (the caller asks the store itself: one
    // fill per group at a time, not one per waiting send).
    boost::asio::awaitable<result<entry_ptr>> members(std::uint64_t group_id) {
        std::uint64_t epoch = 0;
        {
            std::lock_guard lock(mutex_);
            if (auto it = entries_.find(group_id); it != entries_.end()) {
                lru_.splice(lru_.begin(), lru_, it->second.lru);
                hits_.inc();
                co_return it->second.members;
            }
            if (too_large_.count(group_id) != 0 || filling_.count(group_id) != 0) {
                co_return entry_ptr{};
            }
            filling_.emplace(group_id, fill_state{});
            epoch = epoch_;
        }
        misses_.inc();
        auto fresh = std::make_shared<group_members>();
        std::uint64_t after = 0;
        constexpr std::size_t page = 1000;
        for (;;) {
            auto p = co_await inner_groups().list_members(group_id, after, page);
            if (!p) {
                std::lock_guard lock(mutex_);
                filling_.erase(group_id);
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
                if (epoch_ == epoch && !filling_.at(group_id).spoiled) {
                    too_large_.insert(group_id);
                }
                filling_.erase(group_id);
                co_return entry_ptr{};
            }
            if (!p->next) {
                break;
            }
            after = *p->next;
        }
        std::lock_guard lock(mutex_);
        auto fill = filling_.extract(group_id);
        // The pages were read one after another: a change committed meanwhile may be in some
        // of them and not in others. Its effect is applied again (idempotent), in commit order.
        entry_ptr result = std::move(fresh);
        if (!fill.mapped().spoiled) {
            for (const auto& c : fill.mapped().log) {
                result = with_change(*result, c.added, c.removed);
            }
        }
        if (epoch_ == epoch && !fill.mapped().spoiled && entries_.count(group_id) == 0) {
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

    // `list` with `added` (ascending) as members and without `removed`.
    static std::shared_ptr<group_members> with_change(const group_members& list,
                                                      std::span<const std::uint64_t> added,
                                                      std::optional<std::uint64_t> removed) {
        auto fresh = std::make_shared<group_members>();
        fresh->ids.reserve(list.ids.size() + added.size());
        fresh->roles.reserve(list.ids.size() + added.size());
        std::size_t a = 0;
        for (std::size_t i = 0; i <= list.ids.size(); ++i) {
            const bool end = i == list.ids.size();
            while (a < added.size() && (end || added[a] < list.ids[i])) {
                if (!removed || added[a] != *removed) {
                    fresh->ids.push_back(added[a]);
                    fresh->roles.push_back(member_role::member);
                }
                ++a;
            }
            if (end) {
                break;
            }
            if (a < added.size() && added[a] == list.ids[i]) {
                ++a;  // already listed (read after the commit)
            }
            if (removed && list.ids[i] == *removed) {
                continue;
            }
            fresh->ids.push_back(list.ids[i]);
            fresh->roles.push_back(list.roles[i]);
        }
        return fresh;
    }

    // Marks a membership change of `users` in `group_id` in flight for its lifetime; a change
    // that overlaps another one of the same group and user makes both evict (see the top of
    // the file).
    class change_scope {
    public:
        change_scope(membership_cache& cache, std::uint64_t group_id,
                     std::span<const std::uint64_t> users)
            : cache_(cache), group_id_(group_id), users_(users.begin(), users.end()) {
            std::lock_guard lock(cache_.mutex_);
            auto& c = cache_.changes_[group_id_];
            ++c.in_flight;
            for (const auto u : users_) {
                if (++c.users[u] > 1) {
                    c.overlapped.insert(u);
                }
            }
        }
        ~change_scope() {
            std::lock_guard lock(cache_.mutex_);
            auto it = cache_.changes_.find(group_id_);
            for (const auto u : users_) {
                if (auto n = it->second.users.find(u); --n->second == 0) {
                    it->second.users.erase(n);
                }
            }
            if (--it->second.in_flight == 0) {
                cache_.changes_.erase(it);
            }
        }
        change_scope(const change_scope&) = delete;
        change_scope& operator=(const change_scope&) = delete;

        std::uint64_t group_id() const { return group_id_; }
        // Under the cache's mutex: another change of one of these users overlapped this one.
        bool overlapped_locked() const {
            const auto& c = cache_.changes_.at(group_id_);
            return std::any_of(users_.begin(), users_.end(),
                               [&](std::uint64_t u) { return c.overlapped.count(u) != 0; });
        }

    private:
        membership_cache& cache_;
        std::uint64_t group_id_;
        std::vector<std::uint64_t> users_;
    };

    // A committed change: `added` (ascending) joined as members, `removed` left. Applied to a
    // copy of the cached list, which replaces it (readers keep the list they hold), and logged
    // for a fill in flight. When another change replaced the list while this one copied it,
    // the copy is made again from the list now cached: changes of other users commute, and a
    // list filled again meanwhile holds this change already or gets it again (idempotent).
    void apply(const change_scope& scope, std::span<const std::uint64_t> added,
               std::optional<std::uint64_t> removed) {
        const auto group_id = scope.group_id();
        for (bool first = true;; first = false) {
            entry_ptr current;
            {
                std::lock_guard lock(mutex_);
                const bool overlapped = scope.overlapped_locked();
                if (first) {
                    too_large_.erase(group_id);
                    if (auto f = filling_.find(group_id); f != filling_.end()) {
                        if (overlapped) {
                            f->second.spoiled = true;
                        } else {
                            f->second.log.push_back(
                                {std::vector<std::uint64_t>(added.begin(), added.end()), removed});
                        }
                    }
                }
                auto it = entries_.find(group_id);
                if (it == entries_.end()) {
                    return;
                }
                if (overlapped) {
                    drop_locked(group_id);
                    return;
                }
                current = it->second.members;
            }
            // Copied outside the lock: sends and fan-out read the cache meanwhile.
            entry_ptr fresh = with_change(*current, added, removed);
            std::lock_guard lock(mutex_);
            auto it = entries_.find(group_id);
            if (it == entries_.end()) {
                return;  // evicted meanwhile: the next fill reads this change
            }
            if (it->second.members != current) {
                continue;
            }
            cached_ids_ = cached_ids_ - current->ids.size() + fresh->ids.size();
            it->second.members = std::move(fresh);
            while (!lru_.empty() && cached_ids_ > options_.max_members) {
                drop_locked(lru_.back());
            }
            return;
        }
    }

    void evict(std::uint64_t group_id) {
        std::lock_guard lock(mutex_);
        if (auto f = filling_.find(group_id); f != filling_.end()) {
            f->second.spoiled = true;
        }
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

    social_change_hub& hub_;
    membership_cache_options options_;
    infra::metrics_registry* metrics_ = nullptr;
    infra::counter& hits_;
    infra::counter& misses_;
    std::mutex mutex_;
    std::unordered_map<std::uint64_t, slot> entries_;
    std::unordered_set<std::uint64_t> too_large_;
    std::list<std::uint64_t> lru_;
    struct change_state {
        std::size_t in_flight = 0;
        std::unordered_map<std::uint64_t, std::size_t> users;  // changes in flight per user
        // Users with two changes at the same time: those changes evict, not apply.
        std::unordered_set<std::uint64_t> overlapped;
    };
    std::unordered_map<std::uint64_t, change_state> changes_;
    struct logged_change {
        std::vector<std::uint64_t> added;
        std::optional<std::uint64_t> removed;
    };
    struct fill_state {
        std::vector<logged_change> log;  // changes applied while the fill read its pages
        bool spoiled = false;            // evicted meanwhile: answer, but do not keep
    };
    std::unordered_map<std::uint64_t, fill_state> filling_;
    std::size_t cached_ids_ = 0;
    std::uint64_t epoch_ = 0;
};

}  // namespace

std::unique_ptr<group_store> make_membership_cache(std::unique_ptr<group_store> inner,
                                                   social_change_hub& changes,
                                                   membership_cache_options options,
                                                   infra::metrics_registry& metrics,
                                                   member_snapshots** snapshots) {
    auto cache = std::make_unique<membership_cache>(std::move(inner), changes, options, metrics);
    if (snapshots != nullptr) {
        *snapshots = cache.get();
    }
    return cache;
}

}  // namespace monochat::storage
