#pragma once
// What the logic services are built from: the composition root (src/app) passes the same set to
// each factory. Everything is borrowed and must outlive the services.

#include <monochat/infra/live_config.hpp>

namespace monochat::infra {
class clock;
class id_generator;
class metrics_registry;
}  // namespace monochat::infra
namespace monochat::storage {
class admin_store;
class group_store;
class message_log;
class read_state_store;
class relation_store;
class user_store;
class member_snapshots;
}  // namespace monochat::storage
namespace monochat::bus {
class delivery_sink;
class message_bus;
}  // namespace monochat::bus

namespace monochat::logic {

class avatar_files;
class moderation_state;
class presence_view;

struct dependencies {
    // The social store's roles (storage/social_stores.hpp), each possibly behind its caches.
    storage::user_store& users;
    storage::relation_store& relations;
    storage::group_store& groups;
    storage::read_state_store& read_state;
    storage::admin_store& admin;
    storage::message_log& log;
    // Deliveries (events, receipts, closes) go to logic::downstream_topic, which must be
    // declared.
    bus::message_bus& bus;
    // Read once per operation (`config.get()`), so a reload applies to the next call.
    const infra::live_config& config;
    const infra::clock& clock;
    infra::id_generator& ids;
    const presence_view& presence;
    infra::metrics_registry& metrics;
    // What the send path knows of mutes and blocks: the services that change them keep it
    // current. Null in tests that need none.
    moderation_state* moderation = nullptr;
    // Where a group's events go when set: gateway's downstream consumer, which spreads them
    // over the I/O threads like a large group's messages (events.hpp). Null: the bus.
    bus::delivery_sink* group_sink = nullptr;
    // The membership cache's lists, for group_sink; null: members are read from `groups`.
    storage::member_snapshots* members = nullptr;
    // The file service's avatar checks and pins (issue 20). Null: setting an avatar is
    // unavailable.
    avatar_files* avatars = nullptr;
};

}  // namespace monochat::logic
