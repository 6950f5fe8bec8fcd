// The downstream consumer's group push in lanes (queues drained on the I/O threads): every online
// member gets every message of a conversation once and in the order the pushes were made,
// while the lanes run on several threads, and `done` comes once per push, after its last lane.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <monochat/gateway/connection_registry.hpp>
#include <monochat/gateway/downstream_consumer.hpp>
#include <monochat/infra/metrics.hpp>
#include <mutex>
#include <thread>

using namespace monochat;
using namespace std::chrono_literals;

namespace {
class recording_connection final : public gateway::ws_connection {
public:
    recording_connection(std::uint64_t session, std::uint64_t user) : session_(session), user_(user) {}
    std::uint64_t session_id() const override { return session_; }
    std::uint64_t user_id() const override { return user_; }
    const std::string& token_hash() const override { return token_; }
    bool push(const std::shared_ptr<const std::string>& frame) override {
        std::lock_guard lock(mutex);
        frames.push_back(*frame);
        return true;
    }
    void close(std::uint16_t, std::string) override {}

    std::mutex mutex;
    std::vector<std::string> frames;

private:
    std::uint64_t session_;
    std::uint64_t user_;
    std::string token_ = "t";
};
}  // namespace

TEST_CASE("a group push in lanes keeps each member's order and ends once", "[gateway][downstream]") {
    namespace net = boost::asio;
    net::io_context io;
    auto work = net::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] { io.run(); });
    }
    infra::metrics_registry metrics;
    gateway::connection_registry registry;
    const std::size_t lanes = GENERATE(1U, 2U, 4U);
    gateway::downstream_consumer consumer(registry, metrics, io.get_executor(), lanes);

    // 3,000 members, 300 of them online (the registry walks the online users), and one online
    // user who is not a member.
    auto members = std::make_shared<std::vector<std::uint64_t>>();
    for (std::uint64_t user = 1; user <= 3000; ++user) {
        members->push_back(user);
    }
    std::vector<std::shared_ptr<recording_connection>> online;
    for (std::uint64_t user = 5; user <= 3000; user += 10) {
        online.push_back(std::make_shared<recording_connection>(user, user));
        registry.add(online.back());
    }
    auto outsider = std::make_shared<recording_connection>(9999, 9999);
    registry.add(outsider);
    const std::shared_ptr<const std::vector<std::uint64_t>> shared = members;

    constexpr int messages = 200;
    std::atomic<int> done{0};
    std::atomic<int> lost{0};
    for (int i = 0; i < messages; ++i) {
        bus::push_frame f;
        f.text = std::make_shared<const std::string>(std::to_string(i));
        f.conversation_id = "group:1";
        f.message_id = static_cast<std::uint64_t>(i + 1);
        f.exclude_session = 15;  // user 15's only session
        consumer.push_to_group(f, shared, 500, [&](std::span<const std::uint64_t>) { lost.fetch_add(1); },
                               [&] { done.fetch_add(1); });
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done.load() < messages && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    work.reset();
    io.stop();
    for (auto& t : threads) {
        t.join();
    }
    CHECK(done.load() == messages);
    CHECK(lost.load() == 0);
    for (const auto& c : online) {
        std::lock_guard lock(c->mutex);
        if (c->user_id() == 15) {
            CHECK(c->frames.empty());
            continue;
        }
        REQUIRE(c->frames.size() == static_cast<std::size_t>(messages));
        for (int i = 0; i < messages; ++i) {
            CHECK(c->frames[static_cast<std::size_t>(i)] == std::to_string(i));
        }
    }
    CHECK(outsider->frames.empty());
}

namespace {
// A session as the consumer sees it: push() queues into an inbox and wakes on the first frame,
// push_held() queues without waking (the lane wakes later), as the WebSocket session does. A
// wake-up moves the whole inbox out as one write: at once, or, given an I/O context, in a
// handler posted to it, as the session's strand does.
class fake_connection final : public gateway::ws_connection {
public:
    fake_connection(std::uint64_t session, std::uint64_t user, boost::asio::io_context* io = nullptr)
        : io_(io), session_(session), user_(user) {}
    std::uint64_t session_id() const override { return session_; }
    std::uint64_t user_id() const override { return user_; }
    const std::string& token_hash() const override { return token_; }
    bool push(const std::shared_ptr<const std::string>& frame) override {
        if (queue(frame)) {
            wake();
        }
        return true;
    }
    bool push_held(const std::shared_ptr<const std::string>& frame,
                   std::vector<std::shared_ptr<gateway::ws_connection>>& wake_later) override {
        if (queue(frame)) {
            wake_later.push_back(self.lock());
        }
        return true;
    }
    void wake() override {
        std::lock_guard lock(mutex);
        ++wakes;
        if (io_ == nullptr) {
            write_locked();
            return;
        }
        boost::asio::post(*io_, [this] {
            std::lock_guard lock(mutex);
            write_locked();
        });
    }
    void close(std::uint16_t, std::string) override {}
    // Every frame written, in order.
    std::vector<std::string> written() const {
        std::lock_guard lock(mutex);
        std::vector<std::string> all;
        for (const auto& w : writes) {
            all.insert(all.end(), w.begin(), w.end());
        }
        return all;
    }

    std::weak_ptr<fake_connection> self;
    mutable std::mutex mutex;
    std::vector<std::string> inbox;
    std::vector<std::vector<std::string>> writes;  // one per wake-up
    int wakes = 0;

private:
    bool queue(const std::shared_ptr<const std::string>& frame) {
        std::lock_guard lock(mutex);
        inbox.push_back(*frame);
        return inbox.size() == 1;
    }
    void write_locked() {
        writes.push_back(std::move(inbox));  // empty: a wake-up with nothing to write
        inbox.clear();
    }
    boost::asio::io_context* io_;
    std::uint64_t session_;
    std::uint64_t user_;
    std::string token_ = "t";
};
}  // namespace

TEST_CASE("a lane walks every push queued for it at once and wakes each connection once",
          "[gateway][downstream]") {
    namespace net = boost::asio;
    net::io_context io;  // not running while the pushes queue up: they wait in the lanes
    infra::metrics_registry metrics;
    gateway::connection_registry registry;
    const std::size_t batch = GENERATE(64U, 2U);
    gateway::downstream_consumer consumer(registry, metrics, io.get_executor(), 2, batch);

    auto members = std::make_shared<std::vector<std::uint64_t>>();
    std::vector<std::shared_ptr<fake_connection>> online;
    for (std::uint64_t user = 1; user <= 40; ++user) {
        members->push_back(user);
        if (user % 2 == 0) {
            online.push_back(std::make_shared<fake_connection>(user, user));
            online.back()->self = online.back();
            registry.add(online.back());
        }
    }
    const std::shared_ptr<const std::vector<std::uint64_t>> shared = members;
    constexpr int messages = 5;
    int done = 0;
    for (int i = 0; i < messages; ++i) {
        bus::push_frame f;
        f.text = std::make_shared<const std::string>(std::to_string(i));
        f.message_id = static_cast<std::uint64_t>(i + 1);
        consumer.push_to_group(f, shared, 500, [](std::span<const std::uint64_t>) {}, [&] { ++done; });
    }
    CHECK(done == 0);
    io.run();
    CHECK(done == messages);
    // Both lanes: one walk each for all five pushes, or three each in batches of two.
    const auto walks = batch == 64 ? 2U : 6U;
    CHECK(metrics.get_counter("monochat_fanout_lane_walks_total", "").value() == walks);
    for (const auto& c : online) {
        const auto written = c->written();
        std::lock_guard lock(c->mutex);
        CHECK(c->inbox.empty());
        REQUIRE(written.size() == static_cast<std::size_t>(messages));
        for (int i = 0; i < messages; ++i) {
            CHECK(written[static_cast<std::size_t>(i)] == std::to_string(i));
        }
        CHECK(c->wakes == (batch == 64 ? 1 : 3));
    }
}


// Issue 22: posting a walk's wake-ups all at once put every socket read behind them (a
// sender's ack waited 0.5 s in the 100,000-member group); and a push that arrived while they
// ran waited for all of them before its own walk.
TEST_CASE("a lane wakes in chunks, and a push that arrives meanwhile rides the same writes",
          "[gateway][downstream]") {
    namespace net = boost::asio;
    net::io_context io;  // run one handler at a time, on this thread
    infra::metrics_registry metrics;
    gateway::connection_registry registry;
    constexpr std::size_t chunk = 4;
    gateway::downstream_consumer consumer(registry, metrics, io.get_executor(), 1, 64, chunk);

    auto members = std::make_shared<std::vector<std::uint64_t>>();
    std::vector<std::shared_ptr<fake_connection>> online;
    for (std::uint64_t user = 1; user <= 20; ++user) {
        members->push_back(user);
        online.push_back(std::make_shared<fake_connection>(user, user, &io));
        online.back()->self = online.back();
        registry.add(online.back());
    }
    const std::shared_ptr<const std::vector<std::uint64_t>> shared = members;
    int done = 0;
    const auto push = [&](const std::string& text) {
        bus::push_frame f;
        f.text = std::make_shared<const std::string>(text);
        f.message_id = 1;
        consumer.push_to_group(f, shared, 500, [](std::span<const std::uint64_t>) {}, [&] { ++done; });
    };

    push("a");
    REQUIRE(io.run_one() == 1);  // the lane's walk and its first chunk of wake-ups
    CHECK(done == 1);
    int woken = 0;
    for (const auto& c : online) {
        woken += c->wakes;
    }
    CHECK(woken == static_cast<int>(chunk));  // not all 20: other handlers get a turn

    push("b");  // arrives during the rotation
    io.run();
    CHECK(done == 2);
    std::size_t writes = 0;
    for (std::size_t i = 0; i < online.size(); ++i) {
        const auto& c = *online[i];
        INFO("connection " << i);
        CHECK(c.inbox.empty());
        std::vector<std::string> got;
        for (const auto& w : c.writes) {
            CHECK_FALSE(w.empty());
            got.insert(got.end(), w.begin(), w.end());
        }
        CHECK(got == std::vector<std::string>{"a", "b"});
        // Woken before "b" was walked: a second write. Later: "a" and "b" in one.
        CHECK(c.writes.size() == (i < chunk ? 2U : 1U));
        writes += c.writes.size();
    }
    CHECK(writes == online.size() + chunk);
}
