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
    // drain()'s own: the pushes it took and the connections to wake after them, of which
    // wake_some() has woken the first `woken`.
    std::vector<std::shared_ptr<group_push>> batch;
    std::vector<std::shared_ptr<ws_connection>> wake;
    std::size_t woken = 0;
};

downstream_consumer::downstream_consumer(connection_registry& registry,
                                         infra::metrics_registry& metrics,
                                         const net::any_io_executor& io, std::size_t lanes,
                                         std::size_t lane_batch, std::size_t wake_chunk)
    : registry_(registry),
      delivered_(metrics.get_counter("monochat_messages_delivered_total",
                                     "Message pushes queued on WebSocket connections.")),
      lane_walks_(metrics.get_counter(
          "monochat_fanout_lane_walks_total",
          "Walks of a large group's lanes over the registry; each takes every push queued for "
          "its lane, up to fanout.lane_batch.")),
      io_(io),
      lane_batch_(std::max<std::size_t>(1, lane_batch)),
      wake_chunk_(std::max<std::size_t>(1, wake_chunk)) {
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

// A lane runs in rotations: a walk queues every waiting push (up to lane_batch_) into its
// connections' inboxes, then the connections that had nothing waiting are woken, wake_chunk_
// per handler, in the order they were reached. Before each chunk, pushes that arrived meanwhile
// are walked too: a connection not yet woken takes their frames in the same system call as the
// earlier ones, and one that was woken already is added at the end of the rotation. So a frame
// waits at most one rotation for its connection's write, and a connection is written once per
// rotation however many pushes reach it; under load the rotation lengthens and each write
// carries more frames. An idle server walks one push at a time.
void downstream_consumer::drain(lane& l, std::size_t index) {
    walk(l, index);
    wake_some(l, index);
}

// Walks the pushes waiting in the lane's queue (up to lane_batch_); false when there were none.
bool downstream_consumer::walk(lane& l, std::size_t index) {
    // `batch` is empty here: every walk leaves it so.
    {
        std::lock_guard lock(l.mutex);
        while (!l.queue.empty() && l.batch.size() < lane_batch_) {
            l.batch.push_back(std::move(l.queue.front()));
            l.queue.pop_front();
        }
    }
    if (l.batch.empty()) {
        return false;
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
    // Every frame of the batch is in its connections' inboxes: the lane's share is queued.
    for (const auto& push : l.batch) {
        if (push->left.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            push->done();
        }
    }
    l.batch.clear();
    return true;
}

// Posts the next wake_chunk_ wake-ups, then itself again for the rest. A wake-up is a handler on
// the I/O threads' one queue: posting a rotation's 10,000 at once would put every socket read
// that becomes ready meanwhile (a sender's `send`, the ack it waits for) behind all of them;
// in chunks, the reactor's turn comes after each chunk.
void downstream_consumer::wake_some(lane& l, std::size_t index) {
    // A rest of up to two chunks goes in one handler: a small group's rotation is not cut up.
    const std::size_t rest = l.wake.size() - l.woken;
    const std::size_t end = rest <= 2 * wake_chunk_ ? l.wake.size() : l.woken + wake_chunk_;
    for (; l.woken < end; ++l.woken) {
        l.wake[l.woken]->wake_here();
    }
    // The woken part goes once it is the larger half: the list stays within twice a rotation.
    if (l.woken >= wake_chunk_ && l.woken * 2 >= l.wake.size()) {
        l.wake.erase(l.wake.begin(), l.wake.begin() + static_cast<std::ptrdiff_t>(l.woken));
        l.woken = 0;
    }
    walk(l, index);
    if (l.woken < l.wake.size()) {
        net::post(io_, [this, &l, index] { wake_some(l, index); });
        return;
    }
    l.wake.clear();
    l.woken = 0;
    bool again = false;
    {
        std::lock_guard lock(l.mutex);
        again = !l.queue.empty();
        l.scheduled = again;
    }
    if (again) {
        // Behind the wake-ups just posted.
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
