// Guarantee 3 of the protocol (gap-free pushes on a live connection) across the router's two
// delivery paths and when a delivery cannot be queued: the messaging service's router over the
// real stores and the in-memory bus, with a stand-in for task's fan-out worker that can be held.

#include <catch2/catch.hpp>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/messaging.hpp>
#include <monochat/logic/wire.hpp>

#include "unit/logic/logic_test_support.hpp"

using namespace monochat;
using namespace monochat::logic;
using namespace monochat::logic::test;
using namespace std::chrono_literals;

namespace {

// Opens while the test holds it; handlers block on it.
class gate {
public:
    void wait() {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return open_; });
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        cv_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

// Opens the gate when the test ends, also after a failed assertion, before the subscription
// blocked on it is stopped (declared after it).
struct open_at_exit {
    gate& g;
    ~open_at_exit() { g.open(); }
};

// Every lost push the guard reported.
class lost_recorder {
public:
    void add(const bus::lost_push& p) {
        std::lock_guard lock(mutex_);
        all_.push_back(p);
        cv_.notify_all();
    }
    std::vector<bus::lost_push> wait_for_one(std::chrono::milliseconds timeout = 3000ms) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, timeout, [&] { return !all_.empty(); });
        return all_;
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<bus::lost_push> all_;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) {
            return true;
        }
        std::this_thread::sleep_for(2ms);
    }
    return pred();
}

std::uint64_t seq_of(const delivery& d) {
    return nlohmann::json::parse(d.frame).at("message").at("seq").get<std::uint64_t>();
}

std::vector<std::uint64_t> message_seqs(const std::vector<delivery>& all) {
    std::vector<std::uint64_t> out;
    for (const auto& d : all) {
        if (d.is_message) {
            out.push_back(seq_of(d));
        }
    }
    return out;
}

void set_config(infra::live_config& live, const std::function<void(infra::config&)>& change) {
    infra::config next = *live.get();
    change(next);
    live.set(std::move(next));
}

}  // namespace

TEST_CASE("a message that cannot be queued for gateway closes its recipients' sessions",
          "[logic][delivery]") {
    world w;
    set_config(w.live, [](infra::config& c) { c.fanout.publish_wait_ms = 50; });
    const auto a = w.user("alice");
    const auto b = w.user("bob");
    const std::string cid = "dm:" + std::to_string(std::min(a.user_id, b.user_id)) + ":" +
                            std::to_string(std::max(a.user_id, b.user_id));

    // A gateway that stalls on its first delivery, behind a downstream queue of one message:
    // the router's third publish at the latest waits publish_wait_ms and fails.
    auto bus = bus::make_memory_bus(w.metrics);
    bus->declare(downstream_topic, {1, 1});
    gate stalled;
    std::atomic<int> seen{0};
    auto gateway = value_of(bus->subscribe(downstream_topic, "gateway", [&](const bus::envelope&) {
        if (seen++ == 0) {
            stalled.wait();
        }
    }));
    const open_at_exit unstall{stalled};
    bus::delivery_guard guard;
    lost_recorder lost;
    guard.set_lost_handler([&](const bus::lost_push& p) { lost.add(p); });
    access_control access(*w.store, *w.store, *w.store, w.live);
    auto messaging = make_messaging_service(
        {*w.log, *w.store, *w.store, *w.store, *bus, access, w.presence, w.live, w.clock, w.ids, w.metrics, &guard});
    messaging->start();

    for (int i = 0; i < 3; ++i) {
        (void)w.say(cid, a.user_id, "hello " + std::to_string(i));
    }
    const auto reports = lost.wait_for_one();
    stalled.open();
    messaging->stop();
    // As the server does: the stores' threads are joined before the service (and its thread
    // pool) goes, or a store thread may still be waking the pool as it is destroyed (TSan).
    w.log->close();
    w.store.reset();
    gateway.reset();
    bus->shutdown();

    REQUIRE_FALSE(reports.empty());
    CHECK(reports[0].conversation_id == cid);
    CHECK_FALSE(reports[0].everyone);
    CHECK(reports[0].seq >= 2);
    std::vector<std::uint64_t> users = reports[0].user_ids;
    std::sort(users.begin(), users.end());
    CHECK(users == std::vector<std::uint64_t>{std::min(a.user_id, b.user_id),
                                              std::max(a.user_id, b.user_id)});
}

TEST_CASE("a group that drops to the fan-out threshold keeps its pushes in seq order",
          "[logic][delivery]") {
    world w;
    set_config(w.live, [](infra::config& c) { c.fanout.large_group_threshold = 2; });
    const auto owner = w.user("owner");
    const auto m1 = w.user("member1");
    const auto m2 = w.user("member2");
    const auto g = value_of(run(w.make_group(owner, "big", {m1.user_id, m2.user_id}, false)));
    const std::string cid = group_conversation_id(g.group_id);

    // The router takes a small group's members from the membership cache (never from the
    // store, on the writer thread): the cache is filled first, as a send's access check does.
    storage::member_snapshots* snapshots = nullptr;
    w.stores.groups = storage::make_membership_cache(std::move(w.stores.groups),
                                                     *w.stores.changes, {}, w.metrics, &snapshots);
    auto cached = storage::make_social_store(w.stores);
    REQUIRE(value_of(run(cached->member_count(g.group_id))) == 3);
    bus::delivery_guard guard;
    access_control access(*cached, *cached, *cached, w.live);
    auto messaging = make_messaging_service({*w.log, *cached, *cached, *cached, *w.bus, access, w.presence, w.live,
                                             w.clock, w.ids, w.metrics, &guard, nullptr, nullptr,
                                             snapshots});
    messaging->start();

    // task's fan-out worker, slowed: it holds its first job until the test lets it go, then
    // does what the real one does (one delivery per shard on downstream, then fanout_done).
    gate slow;
    std::atomic<int> held{0};
    auto fanout = value_of(w.bus->subscribe(bus::fanout_topic, "fanout", [&](const bus::envelope& e) {
        if (held++ == 0) {
            slow.wait();
        }
        auto job = bus::decode_fanout_job(*e.payload);
        if (!job) {
            return;
        }
        delivery d;
        d.is_message = true;
        d.user_ids = {owner.user_id, m1.user_id, m2.user_id};
        d.frame = job->frame;
        // A failure shows as a missing delivery below.
        (void)w.bus->publish(downstream_topic, job->conversation_id,
                             std::make_shared<const std::string>(encode_delivery(d)));
        guard.fanout_done(job->conversation_id);
    }));
    const open_at_exit release{slow};
    std::atomic<int> jobs{0};
    auto observer = value_of(w.bus->subscribe(bus::fanout_topic, "observer",
                                              [&](const bus::envelope&) { ++jobs; }));

    (void)w.say(cid, owner.user_id, "one");  // 3 members > 2: a fan-out job, held
    REQUIRE(eventually([&] { return jobs.load() == 1; }));
    // A live reload raises the threshold: the group is small now.
    set_config(w.live, [](infra::config& c) { c.fanout.large_group_threshold = 500; });
    (void)w.say(cid, owner.user_id, "two");
    // Routed either behind the first job or (the bug) straight to gateway.
    REQUIRE(eventually([&] {
        return jobs.load() == 2 || !message_seqs(w.deliveries.snapshot()).empty();
    }));
    slow.open();
    const auto all = w.deliveries.wait_for(
        [](const std::vector<delivery>& d) { return message_seqs(d).size() >= 2; });
    CHECK(message_seqs(all) == std::vector<std::uint64_t>{1, 2});
    CHECK(eventually([&] { return !guard.fanout_pending(cid); }));

    // Once the queue is drained, the small group goes straight to gateway again.
    (void)w.say(cid, owner.user_id, "three");
    const auto after = w.deliveries.wait_for(
        [](const std::vector<delivery>& d) { return message_seqs(d).size() >= 3; });
    CHECK(message_seqs(after) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(jobs.load() == 2);

    messaging->stop();
    // As the server does: the stores' threads are joined before the service (and its thread
    // pool) goes, or a store thread may still be waking the pool as it is destroyed (TSan).
    w.log->close();
    cached.reset();
    fanout.reset();
    observer.reset();
}
