#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/delivery_router.hpp>
#include <monochat/logic/message_format.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/social_records.hpp>

namespace monochat::logic {

struct delivery_router::impl {
    explicit impl(delivery_router_dependencies deps)
        : d(deps),
          delivered(d.metrics.get_counter("monochat_router_messages_total",
                                          "Committed messages routed, by path.",
                                          {{"path", "direct"}})),
          fanned_out(d.metrics.get_counter("monochat_router_messages_total",
                                           "Committed messages routed, by path.",
                                           {{"path", "fanout"}})),
          publish_failed(d.metrics.get_counter("monochat_publish_failed_total",
                                               "Committed messages whose delivery could not be queued.")) {
        d.bus.declare(bus::fanout_topic,
                      {2, static_cast<std::size_t>(d.live.get()->fanout.queue_capacity)});
    }

    delivery_router_dependencies d;
    infra::counter& delivered;
    infra::counter& fanned_out;
    infra::counter& publish_failed;

    void route(const storage::stored_message& m, std::uint64_t origin_session) {
        const auto conv = parse_conversation_id(m.conversation_id);
        if (!conv) {
            return;  // the log stores only what logic validated
        }
        auto& traces = infra::traces();
        const bool traced = traces.sampled(m.message_id);
        if (traced) {
            // Before the message reaches anyone, so that the trace shows `stored` ahead of
            // `fanout` (the sender's coroutine may resume later than both).
            traces.add(m.message_id, infra::trace_stage::stored, m.seq);
        }
        bus::push_frame frame;
        frame.text = std::make_shared<const std::string>(push_message_frame(m));
        frame.conversation_id = m.conversation_id;
        frame.exclude_session = origin_session;
        frame.message_id = m.message_id;
        switch (conv->kind) {
            case conversation_kind::world:
                if (!d.sink.push_to_world(frame)) {
                    lost(m, {}, true);
                    return;
                }
                delivered.inc();
                return;
            case conversation_kind::direct: {
                const std::uint64_t users[] = {conv->low, conv->high};
                if (traced) {
                    traces.add(m.message_id, infra::trace_stage::fanout, 2, 0);
                }
                if (!d.sink.push_to_users(frame, users)) {
                    lost(m, {conv->low, conv->high}, false);
                    return;
                }
                delivered.inc();
                return;
            }
            case conversation_kind::group: break;
        }
        const auto threshold = static_cast<std::size_t>(d.live.get()->fanout.large_group_threshold);
        // While an earlier message of this conversation still waits in the fan-out queue, this
        // one follows it there even if the group is small now: a direct push would overtake it.
        if (!d.guard.fanout_pending(conv->id) && d.members != nullptr) {
            if (auto members = d.members->cached_member_ids(conv->group_id);
                members && members->size() <= threshold) {
                if (traced) {
                    traces.add(m.message_id, infra::trace_stage::fanout, members->size(), 0);
                }
                if (!d.sink.push_to_users(frame, *members)) {
                    lost(m, *members, false);
                    return;
                }
                delivered.inc();
                return;
            }
        }
        fan_out(*conv, m, std::move(frame));
    }

    // The push could not be queued: whoever could have got it is closed now, before the
    // conversation's next message is routed (this thread routes in commit order).
    void lost(const storage::stored_message& m, std::vector<std::uint64_t> users, bool everyone) {
        publish_failed.inc();
        infra::log::error("logic", "a committed message could not be queued for delivery",
                          {{"conversation", m.conversation_id}, {"seq", m.seq}});
        d.guard.report_lost({m.conversation_id, m.seq, std::move(users), everyone});
    }

    // A large (or not cached) group: task reads the members and pushes them in shards.
    void fan_out(const conversation_ref& conv, const storage::stored_message& m,
                 bus::push_frame frame) {
        auto& traces = infra::traces();
        const bool traced = traces.sampled(m.message_id);
        const std::string trace_id = traced ? traces.trace_id_of(m.message_id) : std::string();
        bus::fanout_job job{conv.id, conv.group_id, frame.exclude_session, m.message_id,
                            *frame.text};
        if (traced) {
            traces.add(m.message_id, infra::trace_stage::fanout, 0, 1);
        }
        if (infra::log::enabled(infra::log::level::debug)) {
            infra::log::debug("logic", "message handed to fan-out workers",
                              {{"trace", trace_id}, {"conversation", conv.id}, {"seq", m.seq}});
        }
        // Marked before the job can be consumed, so that the worker's fanout_done never comes
        // first.
        d.guard.fanout_queued(conv.id);
        bus::headers hdrs;
        if (!trace_id.empty()) {
            hdrs.emplace_back("trace", trace_id);
        }
        auto st = d.bus.publish(bus::fanout_topic, conv.id,
                                std::make_shared<const std::string>(bus::encode_fanout_job(job)),
                                std::move(hdrs),
                                std::chrono::milliseconds(d.live.get()->fanout.publish_wait_ms));
        if (!st) {
            publish_failed.inc();
            infra::log::error("logic", "a message could not be queued for fan-out",
                              {{"conversation", conv.id}, {"seq", m.seq},
                               {"error", st.error().message}});
            d.guard.fanout_done(conv.id);
            // Who would have got it is not read here, on the storage writer: every session goes.
            d.guard.report_lost({conv.id, m.seq, {}, true});
            return;
        }
        fanned_out.inc();
    }
};

delivery_router::delivery_router(delivery_router_dependencies d)
    : impl_(std::make_unique<impl>(d)) {}

delivery_router::~delivery_router() = default;

void delivery_router::route(const storage::commit_event& committed) {
    const auto& messages = *committed.messages;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        impl_->route(messages[i], i < committed.origins.size() ? committed.origins[i] : 0);
    }
}

}  // namespace monochat::logic
