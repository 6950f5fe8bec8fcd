// The fan-out worker's part in the gap-free guarantee (bus/delivery_guard.hpp): a job clears
// its conversation's pending mark once its shards are queued, and a shard that cannot be
// queued is reported as a lost push for exactly its members.

#include <catch2/catch.hpp>
#include <atomic>
#include <condition_variable>
#include <map>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/task/fanout_worker.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "unit/storage/social_test_support.hpp"

using namespace monochat;
using namespace std::chrono_literals;
using storage::test::value_of;

namespace {

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(2ms);
    }
    return pred();
}

constexpr std::uint64_t group_id = 77;
const std::string cid = "group:77";

// A group of users 1 to 5 (1 owns it), fanned out in shards of 2: three shards.
struct fanout_fixture : storage::test::social_fixture {
    infra::live_config live{[] {
        infra::config c;
        c.fanout.shard_size = 2;
        c.fanout.publish_wait_ms = 50;
        return c;
    }()};
    std::unique_ptr<bus::message_bus> bus = bus::make_memory_bus(metrics);
    bus::delivery_guard guard;

    fanout_fixture() {
        for (std::uint64_t id = 1; id <= 5; ++id) {
            add_user(id, "user" + std::to_string(id));
        }
        value_of(run(store->create_group(group_id, "g", 1, false, {2, 3, 4, 5}, 1000, 100)));
    }
    ~fanout_fixture() { bus->shutdown(); }

    void publish_job() {
        bus::fanout_job job{cid, group_id, 0, 1, R"({"type":"message"})"};
        guard.fanout_queued(cid);
        const bool queued = bus->publish(bus::fanout_topic, cid,
                                         std::make_shared<const std::string>(
                                             bus::encode_fanout_job(job)))
                                .has_value();
        REQUIRE(queued);
    }
};

}  // namespace

TEST_CASE_METHOD(fanout_fixture, "a fan-out job clears its conversation's mark after its shards",
                 "[task][fanout]") {
    bus->declare(bus::downstream_topic, {1, 1024});
    std::mutex m;
    std::vector<std::uint64_t> reached;
    auto gateway = value_of(bus->subscribe(bus::downstream_topic, "gateway", [&](const bus::envelope& e) {
        auto d = bus::decode_delivery(*e.payload);
        std::lock_guard lock(m);
        if (d) {
            reached.insert(reached.end(), d->user_ids.begin(), d->user_ids.end());
        }
    }));
    task::fanout_worker worker(*bus, *store, live, metrics, &guard);
    REQUIRE(worker.start().has_value());
    publish_job();
    CHECK(eventually([&] { return !guard.fanout_pending(cid); }));
    CHECK(eventually([&] {
        std::lock_guard lock(m);
        return reached.size() == 5;
    }));
    CHECK(guard.lost_reports() == 0);
    worker.stop();
}

TEST_CASE_METHOD(fanout_fixture, "a fan-out shard that cannot be queued is a lost push for its members",
                 "[task][fanout]") {
    // A gateway stalled on its first delivery behind a queue of one: of the three shards, the
    // third at the latest finds the queue full for publish_wait_ms.
    bus->declare(bus::downstream_topic, {1, 1});
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    std::set<std::uint64_t> reached;
    auto gateway = value_of(bus->subscribe(bus::downstream_topic, "gateway", [&](const bus::envelope& e) {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return open; });
        if (auto d = bus::decode_delivery(*e.payload)) {
            reached.insert(d->user_ids.begin(), d->user_ids.end());
        }
    }));
    struct opener {
        std::mutex& m;
        std::condition_variable& cv;
        bool& open;
        ~opener() {
            std::lock_guard lock(m);
            open = true;
            cv.notify_all();
        }
    } unstall{m, cv, open};
    std::mutex lost_mutex;
    std::vector<bus::lost_push> lost;
    guard.set_lost_handler([&](const bus::lost_push& p) {
        std::lock_guard lock(lost_mutex);
        lost.push_back(p);
    });
    task::fanout_worker worker(*bus, *store, live, metrics, &guard);
    REQUIRE(worker.start().has_value());
    publish_job();
    // The mark clears even though a shard failed: the job is over.
    REQUIRE(eventually([&] { return !guard.fanout_pending(cid); }));
    {
        std::lock_guard lock(m);
        open = true;
        cv.notify_all();
    }
    std::set<std::uint64_t> missed;
    const auto settle = [&] {
        std::scoped_lock lock(m, lost_mutex);
        missed.clear();
        for (const auto& p : lost) {
            missed.insert(p.user_ids.begin(), p.user_ids.end());
        }
        return reached.size() + missed.size() >= 5;
    };
    CHECK(eventually(settle));
    worker.stop();
    gateway.reset();

    std::scoped_lock lock(m, lost_mutex);
    REQUIRE_FALSE(lost.empty());
    for (const auto& p : lost) {
        CHECK(p.conversation_id == cid);
        CHECK_FALSE(p.everyone);
    }
    // Every member was either pushed or reported, none both.
    std::set<std::uint64_t> all = reached;
    for (const auto id : missed) {
        CHECK(reached.count(id) == 0);
        all.insert(id);
    }
    CHECK(all == std::set<std::uint64_t>{1, 2, 3, 4, 5});
}

namespace {

// A sink whose group pushes complete later, on a thread of their own, in the order they were
// made (as the gateway's lanes do), while a plain push_to_users lands at once. A worker that
// pushed some messages of a conversation past push_to_group would let them overtake.
class deferred_sink final : public bus::delivery_sink {
public:
    deferred_sink() : thread_([this] { run(); }) {}
    ~deferred_sink() override {
        {
            std::lock_guard lock(m_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    bool push_to_users(const bus::push_frame& f, std::span<const std::uint64_t> users) override {
        std::lock_guard lock(m_);
        for (const auto u : users) {
            got[u].push_back(f.message_id);
        }
        return true;
    }
    bool push_to_world(const bus::push_frame&) override { return true; }
    void push_to_group(const bus::push_frame& f, std::shared_ptr<const std::vector<std::uint64_t>> members,
                       std::size_t, std::function<void(std::span<const std::uint64_t>)>,
                       std::function<void()> done) override {
        std::lock_guard lock(m_);
        queue_.push_back({f, std::move(members), std::move(done)});
        cv_.notify_all();
    }

    std::map<std::uint64_t, std::vector<std::uint64_t>> snapshot() {
        std::lock_guard lock(m_);
        return got;
    }

private:
    struct job {
        bus::push_frame f;
        std::shared_ptr<const std::vector<std::uint64_t>> members;
        std::function<void()> done;
    };
    void run() {
        std::unique_lock lock(m_);
        for (;;) {
            cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) {
                return;
            }
            auto j = std::move(queue_.front());
            queue_.erase(queue_.begin());
            lock.unlock();
            std::this_thread::sleep_for(1ms);  // the lanes are busy
            lock.lock();
            for (const auto u : *j.members) {
                got[u].push_back(j.f.message_id);
            }
            lock.unlock();
            j.done();
            lock.lock();
        }
    }

    std::mutex m_;
    std::condition_variable cv_;
    std::vector<job> queue_;
    bool stop_ = false;
    std::map<std::uint64_t, std::vector<std::uint64_t>> got;
    std::thread thread_;
};

// The membership cache's lists, there for some messages and not for others (a membership
// change evicts a group until the next fill).
class flickering_snapshots final : public storage::member_snapshots {
public:
    std::shared_ptr<const std::vector<std::uint64_t>> cached_member_ids(std::uint64_t) override {
        if (calls_.fetch_add(1) % 2 == 0) {
            return std::make_shared<const std::vector<std::uint64_t>>(
                std::vector<std::uint64_t>{1, 2, 3, 4, 5});
        }
        return nullptr;
    }

private:
    std::atomic<int> calls_{0};
};

}  // namespace

TEST_CASE_METHOD(fanout_fixture, "a large group's messages keep their order whether its list is cached or read",
                 "[task][fanout]") {
    deferred_sink sink;
    flickering_snapshots snapshots;
    task::fanout_worker worker(*bus, *store, live, metrics, &guard, &sink, &snapshots);
    REQUIRE(worker.start().has_value());
    constexpr std::uint64_t messages = 20;
    for (std::uint64_t id = 1; id <= messages; ++id) {
        bus::fanout_job job{cid, group_id, 0, id, R"({"type":"message"})"};
        guard.fanout_queued(cid);
        REQUIRE(bus->publish(bus::fanout_topic, cid,
                             std::make_shared<const std::string>(bus::encode_fanout_job(job)))
                    .has_value());
    }
    REQUIRE(eventually([&] { return !guard.fanout_pending(cid); }));
    worker.stop();
    std::vector<std::uint64_t> in_order;
    for (std::uint64_t id = 1; id <= messages; ++id) {
        in_order.push_back(id);
    }
    const auto got = sink.snapshot();
    REQUIRE(got.size() == 5);
    for (const auto& [user, ids] : got) {
        INFO("user " << user);
        CHECK(ids == in_order);
    }
}
