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

#include "storage/forwarding_social_store.hpp"

namespace monochat::storage {
namespace {

struct group_members {
    std::vector<std::uint64_t> ids;  // ascending
    std::vector<member_role> roles;  // parallel to ids
};

class membership_cache final : public detail::forwarding_social_store, public member_snapshots {
public:
    membership_cache(std::unique_ptr<social_store> inner, membership_cache_options options,
                     infra::metrics_registry& metrics)
        : forwarding_social_store(std::move(inner)),
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
            co_return co_await inner().member_role_of(group_id, user_id);
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
            co_return co_await inner().member_ids(group_id, after_user_id, limit);
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
            co_return co_await inner().member_count(group_id);
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
        auto r = co_await inner().add_members(group_id, std::move(user_ids), joined_ms, max_members);
        evict(group_id);
        co_return r;
    }
    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        auto r = co_await inner().join_group(group_id, user_id, joined_ms, max_members);
        evict(group_id);
        co_return r;
    }
    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        auto r = co_await inner().remove_member(group_id, user_id);
        evict(group_id);
        co_return r;
    }
    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        auto r = co_await inner().set_member_role(group_id, user_id, role);
        evict(group_id);
        co_return r;
    }
    task<group_record> create_group(std::uint64_t group_id, std::string name, std::uint64_t owner_id,
                                    bool is_public, std::vector<std::uint64_t> member_ids,
                                    std::int64_t created_ms, std::uint64_t max_members) override {
        auto r = co_await inner().create_group(group_id, std::move(name), owner_id, is_public,
                                               std::move(member_ids), created_ms, max_members);
        evict(group_id);  // a failed lookup of this id may have raced the creation
        co_return r;
    }

private:
    // Deleting a user removes its memberships in every group: everything cached may be stale.
    // (Guests, whom purge_guests removes, are members of no group; evicted anyway.)
    void users_removed() override { evict_all(); }

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
            auto p = co_await inner().list_members(group_id, after, page);
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
                                                    infra::metrics_registry& metrics,
                                                    member_snapshots** snapshots) {
    auto cache = std::make_unique<membership_cache>(std::move(inner), options, metrics);
    if (snapshots != nullptr) {
        *snapshots = cache.get();
    }
    return cache;
}

}  // namespace monochat::storage
