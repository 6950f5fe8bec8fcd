#include <monochat/task/fanout_worker.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <span>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/group_store.hpp>

namespace monochat::task {

namespace net = boost::asio;

struct fanout_worker::impl {
    impl(bus::message_bus& b, storage::group_store& gs, const infra::live_config& l,
         infra::metrics_registry& m, bus::delivery_guard* g, bus::delivery_sink* k,
         storage::member_snapshots* ms)
        : bus(b),
          guard(g),
          own_sink(k != nullptr ? nullptr
                                : bus::make_topic_sink(b, std::string(bus::downstream_topic), [this] {
                                      return std::chrono::milliseconds(live.get()->fanout.publish_wait_ms);
                                  })),
          sink(k != nullptr ? *k : *own_sink),
          members(ms),
          groups(gs),
          live(l),
          pool(1),
          jobs(m.get_counter("monochat_fanout_jobs_total", "Large-group messages fanned out by task.")),
          shards(m.get_counter("monochat_fanout_shards_total", "Per-shard deliveries published by task.")),
          failed(m.get_counter("monochat_publish_failed_total",
                               "Committed messages whose delivery could not be queued.")) {}

    bus::message_bus& bus;
    bus::delivery_guard* guard;
    std::unique_ptr<bus::delivery_sink> own_sink;
    bus::delivery_sink& sink;
    storage::member_snapshots* members;
    storage::group_store& groups;
    const infra::live_config& live;
    net::thread_pool pool;
    infra::counter& jobs;
    infra::counter& shards;
    infra::counter& failed;
    std::unique_ptr<bus::subscription> sub;

    // The trace id of the send that stored the message (a bus header), or empty.
    static std::string trace_of(const bus::envelope& e) {
        for (const auto& [name, value] : e.hdrs) {
            if (name == "trace") {
                return value;
            }
        }
        return {};
    }

    void report_lost(const std::string& conversation_id, std::vector<std::uint64_t> users,
                     bool everyone) {
        if (guard != nullptr) {
            guard->report_lost({conversation_id, 0, std::move(users), everyone});
        }
    }

    void handle(const bus::envelope& e) {
        // However the job ends, the router may route this conversation directly again: every
        // shard that could be queued is on `downstream` by then. The key is the conversation
        // id, also of a job that does not decode.
        struct done_guard {
            bus::delivery_guard* guard;
            const std::string& conversation_id;
            ~done_guard() {
                if (guard != nullptr) {
                    guard->fanout_done(conversation_id);
                }
            }
        } done{guard, e.key};
        const std::string& payload = *e.payload;
        auto job = bus::decode_fanout_job(payload);
        if (!job) {
            infra::log::error("task", "dropping a malformed fan-out job");
            report_lost(e.key, {}, true);
            return;
        }
        jobs.inc();
        const std::string trace_id = trace_of(e);
        bus::push_frame frame;
        frame.text = std::make_shared<const std::string>(std::move(job->frame));
        frame.conversation_id = job->conversation_id;
        frame.exclude_session = job->exclude_session;
        frame.message_id = job->message_id;
        const auto shard_size =
            std::max<std::size_t>(1, static_cast<std::size_t>(live.get()->fanout.shard_size));
        // A cached group's list is shared, not copied or read again; any other is read in
        // pages first. Either way the sink gets the whole list at once and spreads its pushes
        // over the gateway's threads: every message of a large group takes that one path, so
        // none can overtake another.
        std::shared_ptr<const std::vector<std::uint64_t>> list;
        if (members != nullptr) {
            list = members->cached_member_ids(job->group_id);
        }
        if (!list) {
            auto read = read_members(job->group_id, shard_size);
            if (!read) {
                infra::log::error("task", "cannot read a fan-out shard",
                                  {{"conversation", job->conversation_id}, {"error", read.error().message}});
                // Nothing was pushed and who is a member is unknown: every session may have
                // missed it.
                report_lost(job->conversation_id, {}, true);
                return;
            }
            list = std::make_shared<const std::vector<std::uint64_t>>(std::move(*read));
        }
        if (auto& traces = infra::traces(); traces.sampled(job->message_id)) {
            traces.add(job->message_id, infra::trace_stage::fanout, list->size(), 1);
        }
        if (infra::log::enabled(infra::log::level::debug)) {
            infra::log::debug("task", "fan-out handed to the gateway",
                              {{"trace", trace_id}, {"conversation", job->conversation_id},
                               {"recipients", list->size()}});
        }
        shards.inc((list->size() + shard_size - 1) / shard_size);
        done.guard = nullptr;  // the sink's `done` clears the mark instead
        sink.push_to_group(
            frame, std::move(list), shard_size,
            [this, conversation = job->conversation_id](std::span<const std::uint64_t> users) {
                failed.inc();
                infra::log::error("task", "a fan-out shard could not be queued",
                                  {{"conversation", conversation}});
                // Before the conversation's next job: these members' sessions close before
                // anything later can be pushed to them.
                report_lost(conversation, std::vector<std::uint64_t>(users.begin(), users.end()),
                            false);
            },
            [g = guard, conversation = job->conversation_id] {
                if (g != nullptr) {
                    g->fanout_done(conversation);
                }
            });
    }

    // A group's member ids, ascending, read from the store `page` at a time (off this thread,
    // on the worker's pool).
    result<std::vector<std::uint64_t>> read_members(std::uint64_t group_id, std::size_t page) {
        std::vector<std::uint64_t> all;
        std::uint64_t after = 0;
        for (;;) {
            result<std::vector<std::uint64_t>> ids = make_error(errc::internal, "not run");
            try {
                ids = net::co_spawn(pool, groups.member_ids(group_id, after, page), net::use_future)
                          .get();
            } catch (const std::exception& e) {
                ids = make_error(errc::internal, e.what());
            }
            if (!ids) {
                return ids.error();
            }
            all.insert(all.end(), ids->begin(), ids->end());
            if (ids->size() < page) {
                return all;
            }
            after = ids->back();
        }
    }
};

fanout_worker::fanout_worker(bus::message_bus& bus, storage::group_store& groups,
                             const infra::live_config& live, infra::metrics_registry& metrics,
                             bus::delivery_guard* guard, bus::delivery_sink* sink,
                             storage::member_snapshots* members)
    : impl_(std::make_unique<impl>(bus, groups, live, metrics, guard, sink, members)) {}

fanout_worker::~fanout_worker() { stop(); }

status fanout_worker::start() {
    impl_->bus.declare(bus::fanout_topic,
                       {2, static_cast<std::size_t>(impl_->live.get()->fanout.queue_capacity)});
    auto sub = impl_->bus.subscribe(bus::fanout_topic, "fanout",
                                    [this](const bus::envelope& e) { impl_->handle(e); });
    if (!sub) {
        return sub.error();
    }
    impl_->sub = std::move(*sub);
    return {};
}

void fanout_worker::stop() {
    if (impl_->sub) {
        impl_->sub->stop();
        impl_->sub.reset();
    }
    impl_->pool.join();
}

}  // namespace monochat::task
