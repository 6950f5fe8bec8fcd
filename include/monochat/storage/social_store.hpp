#pragma once
// The social store as one interface: every role of social_stores.hpp at once, for the callers
// that still take the whole store.

#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <monochat/storage/social_records.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/user_store.hpp>

namespace monochat::storage {

class social_store : public user_store,
                     public relation_store,
                     public group_store,
                     public read_state_store,
                     public admin_store {
public:
    template <class T>
    using task = store_task<T>;
};

// The set as one store: each call goes to the role that answers it, the one the set held when
// this was made. Those roles must outlive the result.
std::unique_ptr<social_store> make_social_store(const social_stores& stores);
// The same, of five roles given one by one.
std::unique_ptr<social_store> make_social_store(user_store& users, relation_store& relations,
                                                group_store& groups, read_state_store& read_state,
                                                admin_store& admin);

// open_sqlite_social_stores, as one store that owns the set (no caches).
[[nodiscard]] result<std::unique_ptr<social_store>> open_sqlite_social_store(
    const sqlite_social_store_options& options, infra::metrics_registry& metrics);

}  // namespace monochat::storage
