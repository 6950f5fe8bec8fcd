#include <monochat/bus/topics.hpp>
#include <monochat/gateway/connection_registry.hpp>
#include <monochat/gateway/downstream_consumer.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <deque>
#include <mutex>
#include <utility>

namespace monochat::gateway {

namespace net = boost::asio;

// One push_to_group() call, shared by its lanes; `done` runs after the last lane's share.
struct downstream_consumer::group_push {
    bus::push_frame frame;
    std::shared_ptr<const std::vector<std::uint64_t>> members;
    std::function<void()> done;
    std::atomic<std::size_t> left;
};

// A lane's queue. At most one drain() per lane is posted or running (`scheduled`), so a lane's
// pushes run in the order they were queued, and a user's sessions are always in the same lane.
struct downstream_consumer::lane {
    std::mutex mutex;
    std::deque<std::shared_ptr<group_push>> queue;
    bool scheduled = false;
    // drain()'s own: the pushes it took and the connections to wake after them.
    std::vector<std::shared_ptr<group_push>> batch;
    std::vector<std::shared_ptr<ws_connection>> wake;
};

downstream_consumer::downstream_consumer(connection_registry& registry,
                                         infra::metrics_registry& metrics,
                                         const net::any_io_executor& io, std::size_t lanes,
                                         std::size_t lane_batch)
    : registry_(registry),
      delivered_(metrics.get_counter("monochat_messages_delivered_total",
                                     "Message pushes queued on WebSocket connections.")),
      lane_walks_(metrics.get_counter(
          "monochat_fanout_lane_walks_total",
          "Walks of a large group's lanes over the registry; each takes every push queued for "
          "its lane, up to fanout.lane_batch.")),
      io_(io),
      lane_batch_(std::max<std::size_t>(1, lane_batch)) {
    if (io) {
        for (std::size_t i = 0; i < lanes; ++i) {
            lanes_.push_back(std::make_unique<lane>());
        }
    }
}

downstream_consumer::~downstream_consumer() = default;

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
    auto push = std::make_shared<group_push>();
    push->frame = f;
    push->members = std::move(members);
    push->done = std::move(done);
    push->left.store(lanes_.size(), std::memory_order_relaxed);
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
        auto& l = *lanes_[i];
        bool post = false;
        {
            std::lock_guard lock(l.mutex);
            l.queue.push_back(push);
            post = !std::exchange(l.scheduled, true);
        }
        if (post) {
            net::post(io_, [this, &l, i] { drain(l, i); });
        }
    }
}

// Every push queued for the lane (up to lane_batch_) in one walk each, holding the wake-ups
// until the last: a connection that several of them reach is woken once and writes them in
// one system call. Under load the queue grows while the previous walk's writes run, so the
// batches grow with it and the cost per push falls; an idle server walks one push at a time.
void downstream_consumer::drain(lane& l, std::size_t index) {
    // `batch` and `wake` are empty here: every drain leaves them so.
    {
        std::lock_guard lock(l.mutex);
        while (!l.queue.empty() && l.batch.size() < lane_batch_) {
            l.batch.push_back(std::move(l.queue.front()));
            l.queue.pop_front();
        }
    }
    lane_walks_.inc();
    for (const auto& push : l.batch) {
        const auto n = registry_.push_to_members(*push->members, push->frame.text,
                                                 push->frame.exclude_session,
                                                 push->frame.exclude_user, push->frame.message_id,
                                                 index, lanes_.size(), &l.wake);
        if (push->frame.message_id != 0) {
            delivered_.inc(n);
        }
    }
    for (const auto& c : l.wake) {
        c->wake();
    }
    l.wake.clear();
    for (const auto& push : l.batch) {
        if (push->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            push->done();
        }
    }
    l.batch.clear();
    bool again = false;
    {
        std::lock_guard lock(l.mutex);
        again = !l.queue.empty();
        l.scheduled = again;
    }
    if (again) {
        // Behind the wake-ups just posted: the next batch gathers while they write.
        net::post(io_, [this, &l, index] { drain(l, index); });
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
