#include <monochat/bus/topics.hpp>
#include <monochat/gateway/connection_registry.hpp>
#include <monochat/gateway/downstream_consumer.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>

#include <atomic>
#include <boost/asio/post.hpp>

namespace monochat::gateway {

namespace net = boost::asio;

downstream_consumer::downstream_consumer(connection_registry& registry,
                                         infra::metrics_registry& metrics,
                                         const net::any_io_executor& io, std::size_t lanes)
    : registry_(registry),
      delivered_(metrics.get_counter("monochat_messages_delivered_total",
                                     "Message pushes queued on WebSocket connections.")) {
    if (io) {
        for (std::size_t i = 0; i < lanes; ++i) {
            lanes_.push_back(net::make_strand(io));
        }
    }
}

void downstream_consumer::push_to_group(const bus::push_frame& f,
                                        std::shared_ptr<const std::vector<std::uint64_t>> members,
                                        std::size_t shard_size,
                                        std::function<void(std::span<const std::uint64_t>)> lost,
                                        std::function<void()> done) {
    if (lanes_.empty()) {
        delivery_sink::push_to_group(f, std::move(members), shard_size, std::move(lost),
                                     std::move(done));
        return;
    }
    struct shared_push {
        bus::push_frame frame;
        std::shared_ptr<const std::vector<std::uint64_t>> members;
        std::function<void()> done;
        std::atomic<std::size_t> left;
    };
    auto push = std::make_shared<shared_push>();
    push->frame = f;
    push->members = std::move(members);
    push->done = std::move(done);
    push->left.store(lanes_.size(), std::memory_order_relaxed);
    // Each lane is a strand: one conversation's pushes, made in sequence, run in sequence in
    // every lane, and a user's sessions are always in the same lane.
    for (std::size_t lane = 0; lane < lanes_.size(); ++lane) {
        net::post(lanes_[lane], [this, push, lane] {
            const auto n = registry_.push_to_members(*push->members, push->frame.text,
                                                     push->frame.exclude_session,
                                                     push->frame.exclude_user,
                                                     push->frame.message_id, lane, lanes_.size());
            if (push->frame.message_id != 0) {
                delivered_.inc(n);
            }
            if (push->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                push->done();
            }
        });
    }
}

bool downstream_consumer::push_to_users(const bus::push_frame& f,
                                        std::span<const std::uint64_t> user_ids) {
    std::size_t n = 0;
    for (const auto user : user_ids) {
        if (user != f.exclude_user) {
            n += registry_.push_to_user(user, f.text, f.exclude_session, f.message_id);
        }
    }
    if (f.message_id != 0) {
        delivered_.inc(n);
    }
    return true;
}

bool downstream_consumer::push_to_world(const bus::push_frame& f) {
    const auto n = registry_.push_to_world(f.text, f.exclude_session, f.exclude_user, f.message_id);
    if (f.message_id != 0) {
        delivered_.inc(n);
    }
    return true;
}

void downstream_consumer::deliver(std::string_view payload, std::string_view trace_id) {
    auto d = bus::decode_delivery(payload);
    if (!d) {
        infra::log::error("gateway", "dropping a malformed delivery");
        return;
    }
    bus::push_frame f;
    f.text = std::make_shared<const std::string>(std::move(d->frame));
    f.exclude_session = d->exclude_session;
    f.exclude_user = d->exclude_user;
    f.message_id = d->is_message ? d->message_id : 0;
    switch (d->kind) {
        case bus::delivery_kind::frame:
            (void)push_to_users(f, d->user_ids);
            if (f.message_id != 0 && !trace_id.empty() &&
                infra::log::enabled(infra::log::level::debug)) {
                infra::log::debug("gateway", "message queued on connections",
                                  {{"trace", trace_id}, {"users", d->user_ids.size()}});
            }
            return;
        case bus::delivery_kind::world: (void)push_to_world(f); return;
        case bus::delivery_kind::close_token:
            registry_.close_token(*f.text, d->close_code, "token revoked");
            return;
        case bus::delivery_kind::close_user:
            for (auto user : d->user_ids) {
                registry_.close_user(user, d->close_code, "closed by the server");
            }
            return;
    }
}

}  // namespace monochat::gateway
