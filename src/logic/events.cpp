#include "logic/events.hpp"

#include <algorithm>
#include <memory>
#include <monochat/infra/log.hpp>
#include <monochat/logic/wire.hpp>

namespace monochat::logic {

event_publisher::event_publisher(bus::message_bus& bus, storage::group_store& groups,
                                 const infra::live_config& config,
                                 infra::metrics_registry& metrics, bus::delivery_sink* group_sink,
                                 storage::member_snapshots* members)
    : bus_(bus),
      groups_(groups),
      group_sink_(group_sink),
      members_(members),
      config_(config),
      dropped_(metrics.get_counter("monochat_events_dropped_total",
                                   "Event and receipt frames dropped because the downstream "
                                   "queue was full.")) {}

void event_publisher::publish(std::string_view key, const delivery& d) {
    auto payload = std::make_shared<const std::string>(encode_delivery(d));
    if (auto st = bus_.try_publish(downstream_topic, key, std::move(payload)); !st) {
        dropped_.inc();
        infra::log::warn("logic", "event dropped",
                         {{"key", key}, {"recipients", d.user_ids.size()},
                          {"error", st.error().message}});
    }
}

void event_publisher::to_users(std::string_view key, std::vector<std::uint64_t> user_ids,
                               const std::string& frame, std::uint64_t exclude_session) {
    if (user_ids.empty()) {
        return;
    }
    delivery d;
    d.kind = delivery_kind::frame;
    d.user_ids = std::move(user_ids);
    d.exclude_session = exclude_session;
    d.frame = frame;
    publish(key, d);
}

boost::asio::awaitable<void> event_publisher::to_group(std::uint64_t group_id, std::string frame,
                                                       std::optional<std::uint64_t> also,
                                                       std::uint64_t exclude_session) {
    if (group_sink_ != nullptr) {
        co_await to_group_sink(group_id, std::move(frame), also, exclude_session);
        co_return;
    }
    const std::string key = group_conversation_id(group_id);
    const auto shard = static_cast<std::size_t>(std::max<std::int64_t>(
        1, config_.get()->fanout.shard_size));
    std::uint64_t after = 0;
    for (;;) {
        auto ids = co_await groups_.member_ids(group_id, after, shard);
        if (!ids) {
            infra::log::warn("logic", "group event fan-out stopped",
                             {{"group_id", group_id}, {"error", ids.error().message}});
            break;
        }
        const bool last_page = ids->size() < shard;
        if (!ids->empty()) {
            after = ids->back();
        }
        if (also && std::find(ids->begin(), ids->end(), *also) == ids->end()) {
            ids->push_back(*also);
        }
        also.reset();
        to_users(key, std::move(*ids), frame, exclude_session);
        if (last_page) {
            break;
        }
    }
    if (also) {
        to_users(key, {*also}, frame, exclude_session);
    }
}

void event_publisher::to_members(std::uint64_t group_id, std::vector<std::uint64_t> member_ids,
                                 std::string frame) {
    if (member_ids.empty()) {
        return;
    }
    const auto shard = static_cast<std::size_t>(std::max<std::int64_t>(
        1, config_.get()->fanout.shard_size));
    const std::string key = group_conversation_id(group_id);
    if (group_sink_ == nullptr) {
        for (std::size_t from = 0; from < member_ids.size(); from += shard) {
            const std::size_t to = std::min(member_ids.size(), from + shard);
            to_users(key, std::vector<std::uint64_t>(member_ids.begin() + static_cast<std::ptrdiff_t>(from),
                                                     member_ids.begin() + static_cast<std::ptrdiff_t>(to)),
                     frame);
        }
        return;
    }
    bus::push_frame f;
    f.text = std::make_shared<const std::string>(std::move(frame));
    f.conversation_id = key;
    auto list = std::make_shared<const std::vector<std::uint64_t>>(std::move(member_ids));
    auto lost = [this](std::span<const std::uint64_t>) { dropped_.inc(); };
    group_sink_->push_to_group(f, std::move(list), shard, std::move(lost), [] {});
}

boost::asio::awaitable<void> event_publisher::to_group_sink(std::uint64_t group_id,
                                                            std::string frame,
                                                            std::optional<std::uint64_t> also,
                                                            std::uint64_t exclude_session) {
    const auto shard = static_cast<std::size_t>(std::max<std::int64_t>(
        1, config_.get()->fanout.shard_size));
    std::shared_ptr<const std::vector<std::uint64_t>> list;
    if (members_ != nullptr) {
        list = members_->cached_member_ids(group_id);
    }
    if (!list) {
        std::vector<std::uint64_t> all;
        std::uint64_t after = 0;
        for (;;) {
            auto ids = co_await groups_.member_ids(group_id, after, shard);
            if (!ids) {
                infra::log::warn("logic", "group event fan-out stopped",
                                 {{"group_id", group_id}, {"error", ids.error().message}});
                break;  // the members read so far still get it
            }
            all.insert(all.end(), ids->begin(), ids->end());
            if (ids->size() < shard) {
                break;
            }
            after = ids->back();
        }
        list = std::make_shared<const std::vector<std::uint64_t>>(std::move(all));
    }
    bus::push_frame f;
    f.text = std::make_shared<const std::string>(std::move(frame));
    f.conversation_id = group_conversation_id(group_id);
    f.exclude_session = exclude_session;
    if (also && !std::binary_search(list->begin(), list->end(), *also)) {
        // One who just left: no longer in the list, told on their own.
        const std::uint64_t one[] = {*also};
        if (!group_sink_->push_to_users(f, one)) {
            dropped_.inc();
        }
    }
    auto lost = [this](std::span<const std::uint64_t>) { dropped_.inc(); };
    group_sink_->push_to_group(f, std::move(list), shard, std::move(lost), [] {});
}

}  // namespace monochat::logic
