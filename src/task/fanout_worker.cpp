#include <monochat/task/fanout_worker.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/social_store.hpp>

namespace monochat::task {

namespace net = boost::asio;

struct fanout_worker::impl {
    impl(bus::message_bus& b, storage::social_store& s, const infra::live_config& l,
         infra::metrics_registry& m, bus::delivery_guard* g)
        : bus(b),
          guard(g),
          social(s),
          live(l),
          pool(1),
          jobs(m.get_counter("monochat_fanout_jobs_total", "Large-group messages fanned out by task.")),
          shards(m.get_counter("monochat_fanout_shards_total", "Per-shard deliveries published by task.")),
          failed(m.get_counter("monochat_publish_failed_total",
                               "Committed messages whose delivery could not be queued.")) {}

    bus::message_bus& bus;
    bus::delivery_guard* guard;
    storage::social_store& social;
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
        bus::headers hdrs;
        if (!trace_id.empty()) {
            hdrs.emplace_back("trace", trace_id);
        }
        const auto shard_size = static_cast<std::size_t>(live.get()->fanout.shard_size);
        std::uint64_t after = 0;
        for (;;) {
            result<std::vector<std::uint64_t>> ids = make_error(errc::internal, "not run");
            try {
                ids = net::co_spawn(pool, social.member_ids(job->group_id, after, shard_size),
                                    net::use_future)
                          .get();
            } catch (const std::exception& e) {
                ids = make_error(errc::internal, e.what());
            }
            if (!ids) {
                infra::log::error("task", "cannot read a fan-out shard",
                                  {{"conversation", job->conversation_id}, {"error", ids.error().message}});
                // The members past `after` are unknown: every session may have missed it.
                report_lost(job->conversation_id, {}, true);
                return;
            }
            if (ids->empty()) {
                return;
            }
            after = ids->back();
            const bool last = ids->size() < shard_size;
            bus::delivery d;
            d.is_message = true;
            d.exclude_session = job->exclude_session;
            d.message_id = job->message_id;
            d.user_ids = std::move(*ids);
            d.frame = job->frame;
            if (auto& traces = infra::traces(); traces.enabled()) {
                traces.add(job->message_id, infra::trace_stage::fanout, d.user_ids.size(), 1);
            }
            infra::log::debug("task", "fan-out shard queued",
                              {{"trace", trace_id}, {"conversation", job->conversation_id},
                               {"recipients", d.user_ids.size()}});
            auto st = bus.publish(bus::downstream_topic, job->conversation_id,
                                  std::make_shared<const std::string>(bus::encode_delivery(d)), hdrs,
                                  std::chrono::milliseconds(live.get()->fanout.publish_wait_ms));
            if (!st) {
                failed.inc();
                infra::log::error("task", "a fan-out shard could not be queued",
                                  {{"conversation", job->conversation_id}, {"error", st.error().message}});
                // Before the next shard and the conversation's next job: these members' sessions
                // close before anything later can be pushed to them.
                report_lost(job->conversation_id, std::move(d.user_ids), false);
            }
            shards.inc();
            if (last) {
                return;
            }
        }
    }
};

fanout_worker::fanout_worker(bus::message_bus& bus, storage::social_store& social,
                             const infra::live_config& live, infra::metrics_registry& metrics,
                             bus::delivery_guard* guard)
    : impl_(std::make_unique<impl>(bus, social, live, metrics, guard)) {}

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
