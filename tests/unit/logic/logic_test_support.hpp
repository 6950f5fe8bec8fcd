#pragma once
// A small world for the logic services' tests: a SQLite social store in a fresh temporary
// directory, the in-memory message log, the in-memory bus with a subscriber that records every
// delivery, a manual clock, and `run()` to drive an awaitable to completion from test code on
// one long-lived io_context (stores complete on their own threads, so the context must outlive
// every completion they post).

#include <stdlib.h>  // mkdtemp

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <memory>
#include <monochat/bus/message_bus.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/conversations.hpp>
#include <monochat/logic/delivery.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/logic/social.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include "support/social_store.hpp"
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace monochat::logic::test {

class scratch_dir {
public:
    scratch_dir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "monochat-logic-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            FAIL("mkdtemp failed for " << pattern);
        }
        path_ = pattern;
    }
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

class io_runner {
public:
    static io_runner& instance() {
        static io_runner runner;
        return runner;
    }
    ~io_runner() {
        guard_.reset();
        thread_.join();
    }
    boost::asio::io_context::executor_type executor() { return ioc_.get_executor(); }

private:
    io_runner() : guard_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

template <class T>
T run(boost::asio::awaitable<T> aw) {
    std::promise<T> promise;
    auto future = promise.get_future();
    boost::asio::co_spawn(io_runner::instance().executor(), std::move(aw),
                          [p = std::move(promise)](std::exception_ptr e, T value) mutable {
                              if (e) {
                                  p.set_exception(e);
                              } else {
                                  p.set_value(std::move(value));
                              }
                          });
    return future.get();
}

template <class T>
T value_of(result<T> r) {
    if (!r) {
        FAIL("unexpected error " << to_string(r.error().code) << ": " << r.error().message);
    }
    if constexpr (!std::is_void_v<T>) {
        return std::move(*r);
    }
}

template <class T>
errc error_of(const result<T>& r) {
    if (r) {
        FAIL("expected an error, got a value");
    }
    INFO(r.error().message);
    return r.error().code;
}

class test_presence final : public presence_view {
public:
    bool is_online(std::uint64_t user_id) const override {
        std::lock_guard lock(mutex_);
        return online_.count(user_id) != 0;
    }
    std::uint64_t online_users() const override {
        std::lock_guard lock(mutex_);
        return online_.size();
    }
    void set(std::uint64_t user_id) {
        std::lock_guard lock(mutex_);
        online_.insert(user_id);
    }

private:
    mutable std::mutex mutex_;
    std::set<std::uint64_t> online_;
};

// Every delivery published on the downstream topic, decoded.
class delivery_recorder {
public:
    void add(delivery d) {
        std::lock_guard lock(mutex_);
        all_.push_back(std::move(d));
        cv_.notify_all();
    }
    // Waits until `pred(all deliveries)` holds (2 s at most); returns a copy of them.
    template <class Pred>
    std::vector<delivery> wait_for(Pred pred) {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::seconds(2), [&] { return pred(all_); });
        return all_;
    }
    std::vector<delivery> snapshot() {
        std::lock_guard lock(mutex_);
        return all_;
    }
    void clear() {
        std::lock_guard lock(mutex_);
        all_.clear();
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<delivery> all_;
};

// The frames of `kind` == frame whose JSON has type/event equal to `name`.
inline std::vector<std::pair<std::vector<std::uint64_t>, nlohmann::json>> frames_named(
    const std::vector<delivery>& all, const std::string& name) {
    std::vector<std::pair<std::vector<std::uint64_t>, nlohmann::json>> out;
    for (const auto& d : all) {
        if (d.kind != delivery_kind::frame) {
            continue;
        }
        auto j = nlohmann::json::parse(d.frame);
        if (j.value("type", "") == name || j.value("event", "") == name) {
            out.emplace_back(d.user_ids, std::move(j));
        }
    }
    return out;
}

inline infra::config test_config() {
    infra::config cfg;
    cfg.auth.argon2_ops = 1;
    cfg.auth.argon2_memory_kib = 64;
    cfg.limits.auth_rate = 1000000;
    return cfg;
}

struct world {
    scratch_dir dir;
    infra::metrics_registry metrics;
    infra::manual_clock clock{1'790'000'000'000};
    infra::system_clock id_clock;
    infra::id_generator ids{id_clock, 7};
    infra::live_config live;
    test_presence presence;
    // The roles; `store` sees them as one store (as they were when opened).
    storage::social_stores stores;
    std::unique_ptr<storage::social_store> store;
    std::unique_ptr<storage::message_log> log;
    std::unique_ptr<bus::message_bus> bus;
    delivery_recorder deliveries;
    std::unique_ptr<bus::subscription> sub;
    std::unique_ptr<logic::accounts> accounts;
    std::unique_ptr<logic::social> social;
    std::unique_ptr<logic::conversations> conversations;

    explicit world(infra::config cfg = test_config()) : live(std::move(cfg)) {
        storage::sqlite_social_store_options o;
        o.path = dir.file("social.db");
        o.readers = 2;
        o.synchronous_full = false;
        stores = value_of(storage::open_sqlite_social_stores(o, metrics));
        store = storage::make_social_store(stores);
        log = storage::make_memory_message_log();
        bus = bus::make_memory_bus(metrics);
        bus->declare(downstream_topic, {2, 4096});
        sub = value_of(bus->subscribe(downstream_topic, "test", [this](const bus::envelope& e) {
            auto d = decode_delivery(*e.payload);
            if (d) {
                deliveries.add(std::move(*d));
            }
        }));
        const dependencies deps{*store, *store, *store, *store, *store, *log, *bus, live, clock, ids, presence, metrics};
        accounts_options ao;
        ao.hashing_threads = 1;
        ao.login_delay_base = std::chrono::milliseconds(1);
        ao.login_delay_cap = std::chrono::milliseconds(4);
        accounts = make_accounts(deps, ao);
        social = make_social(deps);
        conversations = make_conversations(deps);
    }
    ~world() {
        sub.reset();
        bus->shutdown();
        log->close();
    }

    // A registered user's identity (with the hash of its token).
    identity user(const std::string& name) {
        auto r = value_of(run(accounts->register_user(name, "password-" + name, std::nullopt,
                                                      "10.0.0.1")));
        return value_of(run(accounts->authenticate(r.token)));
    }
    identity guest() {
        auto r = value_of(run(accounts->create_guest(std::nullopt, "10.0.0.1")));
        return value_of(run(accounts->authenticate(r.token)));
    }
    void befriend(const identity& a, const identity& b) {
        auto req = value_of(run(social->send_friend_request(a, b.user_id, "")));
        value_of(run(social->accept_friend_request(b, req.request.request_id)));
    }
    // Makes `a` and `b` friends through the store (no events) unless they are already; does
    // nothing when the store refuses (a guest, a block): the call under test answers that.
    void befriend_ids(std::uint64_t a, std::uint64_t b) {
        auto sent = run(store->send_friend_request(ids.next(), a, b, "", clock.now_ms()));
        if (sent && !sent->accepted_existing) {
            (void)run(store->accept_friend_request(sent->request.id, b, clock.now_ms()));
        }
    }
    // social->create_group after befriending the owner with each member (contract v1.1:
    // members come only from the owner's friends).
    auto make_group(const identity& owner, std::string name, std::vector<std::uint64_t> members,
                    bool is_public) {
        for (const auto m : members) {
            if (m != owner.user_id) {
                befriend_ids(owner.user_id, m);
            }
        }
        return social->create_group(owner, std::move(name), std::move(members), is_public);
    }
    // Appends a text message as `from` and returns its seq.
    std::uint64_t say(const std::string& cid, std::uint64_t from, const std::string& text) {
        storage::append_request req;
        req.conversation_id = cid;
        req.sender_id = from;
        req.client_msg_id = "c" + std::to_string(ids.next());
        req.message_id = ids.next();
        req.ts_ms = clock.now_ms();
        req.body = nlohmann::json{{"type", "text"}, {"text", text}}.dump();
        return value_of(run(log->append(std::move(req)))).message.seq;
    }
};

}  // namespace monochat::logic::test
