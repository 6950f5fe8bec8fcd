#pragma once
// The server's logic for the fuzz targets that go past parsing: the SQLite social store and the
// search index in a fresh temporary directory, the in-memory message log and bus, the logic
// services and the HTTP routes exactly as src/app wires them. Built once per fuzzing process.
//
// Two users (alice and bob, friends), a group of both, and their direct conversation exist;
// inputs name them with placeholders that `expand` replaces, so that the fuzzer reaches the
// handlers' deep paths instead of stopping at "no such user":
//   $TOKEN  alice's bearer token      $ALICE, $BOB  their user ids
//   $DM     their direct conversation $GROUP        the group's conversation, $GID its id

#include <stdlib.h>  // mkdtemp

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <monochat/bus/message_bus.hpp>
#include <monochat/gateway/http.hpp>
#include <monochat/gateway/message_routes.hpp>
#include <monochat/gateway/rest_routes.hpp>
#include <monochat/gateway/search_routes.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/config.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/conversations.hpp>
#include <monochat/logic/delivery.hpp>
#include <monochat/logic/messaging.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/logic/search.hpp>
#include <monochat/logic/social.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <monochat/storage/search_index.hpp>
#include "support/social_store.hpp"
#include <string>
#include <thread>
#include <utility>

namespace monochat::fuzz {

[[noreturn]] inline void die(const std::string& what) {
    std::fprintf(stderr, "fuzz: %s\n", what.c_str());
    std::abort();
}

template <class T>
T must(result<T> r, const char* what) {
    if (!r) {
        die(std::string(what) + ": " + r.error().message);
    }
    return std::move(*r);
}

// Nobody is online (no WebSocket sessions exist here).
class nobody_online final : public logic::presence_view {
public:
    bool is_online(std::uint64_t) const override { return false; }
    std::uint64_t online_users() const override { return 0; }
};

// Runs awaitables to completion on one long-lived io_context thread (stores complete on their
// own threads and post back to it).
class io_runner {
public:
    io_runner() : guard_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
    ~io_runner() {
        guard_.reset();
        thread_.join();
    }
    template <class T>
    T run(boost::asio::awaitable<T> aw) {
        std::promise<T> promise;
        auto future = promise.get_future();
        boost::asio::co_spawn(ioc_, std::move(aw),
                              [p = std::move(promise)](std::exception_ptr e, T value) mutable {
                                  if (e) {
                                      p.set_exception(e);
                                  } else {
                                      p.set_value(std::move(value));
                                  }
                              });
        // An exception escaping a handler is a finding: let it reach libFuzzer.
        return future.get();
    }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

inline infra::config fuzz_config() {
    infra::config cfg;
    cfg.auth.argon2_ops = 1;
    cfg.auth.argon2_memory_kib = 64;
    cfg.limits.auth_rate = 1000000000;
    cfg.limits.send_rate = 1e9;
    cfg.limits.send_burst = 1000000000;
    cfg.auth.login_max_failures = 1000000000;  // wrong passwords must not lock alice out
    return cfg;
}

struct world {
    std::filesystem::path dir;
    infra::metrics_registry metrics;
    infra::system_clock clock;
    infra::id_generator ids{clock, 3};
    infra::live_config live{fuzz_config()};
    nobody_online presence;
    std::unique_ptr<storage::social_store> store;
    std::unique_ptr<storage::message_log> log;
    std::unique_ptr<storage::search_index> search_index;
    std::unique_ptr<bus::message_bus> bus;
    std::unique_ptr<bus::subscription> sink;
    std::unique_ptr<logic::access_control> access;
    std::unique_ptr<logic::messaging_service> messaging;
    std::unique_ptr<logic::accounts> accounts;
    std::unique_ptr<logic::social> social;
    std::unique_ptr<logic::conversations> conversations;
    std::unique_ptr<logic::search_service> search;
    gateway::router routes;
    io_runner io;

    logic::identity alice;
    logic::identity bob;
    std::string alice_token;
    std::string dm;
    std::string group;
    std::uint64_t group_id = 0;

    world() {
        infra::log::set_level(infra::log::level::error);
        std::string pattern = (std::filesystem::temp_directory_path() / "monochat-fuzz-XXXXXX").string();
        if (mkdtemp(pattern.data()) == nullptr) {
            die("mkdtemp failed");
        }
        dir = pattern;
        storage::sqlite_social_store_options so;
        so.path = (dir / "social.db").string();
        so.readers = 1;
        so.synchronous_full = false;
        store = must(storage::open_sqlite_social_store(so, metrics), "social store");
        log = storage::make_memory_message_log();
        storage::sqlite_search_index_options xo;
        xo.path = (dir / "search.db").string();
        xo.readers = 1;
        search_index = must(storage::open_sqlite_search_index(xo, metrics), "search index");
        bus = bus::make_memory_bus(metrics);
        bus->declare(logic::downstream_topic, {1, 65536});
        // Deliveries go nowhere, as when no session is connected.
        sink = must(bus->subscribe(logic::downstream_topic, "fuzz", [](const bus::envelope&) {}),
                    "subscribe");
        access = std::make_unique<logic::access_control>(*store, *store, *store, live);
        messaging = logic::make_messaging_service(
            {*log, *store, *store, *store, *bus, *access, presence, live, clock, ids, metrics});
        messaging->start();
        const logic::dependencies deps{*store, *store, *store, *store, *store, *log, *bus, live, clock, ids, presence, metrics};
        logic::accounts_options ao;
        ao.hashing_threads = 1;
        ao.login_delay_base = std::chrono::milliseconds(0);
        ao.login_delay_cap = std::chrono::milliseconds(0);
        accounts = logic::make_accounts(deps, ao);
        social = logic::make_social(deps);
        conversations = logic::make_conversations(deps);
        search = std::make_unique<logic::search_service>(*search_index, *log, *store, *store, *access);

        const gateway::authenticator authenticate = [this](std::string token) {
            return accounts->authenticate(std::move(token));
        };
        gateway::add_message_routes(routes, authenticate, *messaging);
        gateway::add_search_routes(routes, authenticate, *search);
        gateway::add_rest_routes(routes, {*accounts, *social, *conversations});

        auto a = must(io.run(accounts->register_user("alice", "password-alice", std::nullopt, "10.0.0.1")),
                      "register alice");
        auto b = must(io.run(accounts->register_user("bob", "password-bob", std::nullopt, "10.0.0.1")),
                      "register bob");
        alice_token = a.token;
        alice = must(io.run(accounts->authenticate(a.token)), "authenticate alice");
        bob = must(io.run(accounts->authenticate(b.token)), "authenticate bob");
        auto req = must(io.run(social->send_friend_request(alice, bob.user_id, "hi")), "befriend");
        must(io.run(social->accept_friend_request(bob, req.request.request_id)), "accept");
        auto g = must(io.run(social->create_group(alice, "fuzzers", {bob.user_id}, false)), "group");
        group_id = g.group_id;
        group = "group:" + std::to_string(group_id);
        const auto lo = std::min(alice.user_id, bob.user_id);
        const auto hi = std::max(alice.user_id, bob.user_id);
        dm = "dm:" + std::to_string(lo) + ":" + std::to_string(hi);
    }

    // A new token for alice after an input logged her out, so that later inputs still reach
    // the handlers behind authentication.
    void relogin() {
        alice_token = must(io.run(accounts->login("alice", "password-alice", "10.0.0.1")), "login").token;
        alice = must(io.run(accounts->authenticate(alice_token)), "authenticate alice");
    }

    // Replaces the placeholders (see the top of this file).
    std::string expand(std::string_view in) const {
        static const std::pair<std::string_view, int> names[] = {
            {"$TOKEN", 0}, {"$ALICE", 1}, {"$BOB", 2}, {"$DM", 3}, {"$GROUP", 4}, {"$GID", 5}};
        std::string out;
        out.reserve(in.size());
        for (std::size_t i = 0; i < in.size();) {
            bool replaced = false;
            if (in[i] == '$') {
                for (const auto& [name, which] : names) {
                    if (in.substr(i, name.size()) == name) {
                        switch (which) {
                            case 0: out += alice_token; break;
                            case 1: out += std::to_string(alice.user_id); break;
                            case 2: out += std::to_string(bob.user_id); break;
                            case 3: out += dm; break;
                            case 4: out += group; break;
                            default: out += std::to_string(group_id); break;
                        }
                        i += name.size();
                        replaced = true;
                        break;
                    }
                }
            }
            if (!replaced) {
                out += in[i++];
            }
        }
        return out;
    }

    // Never destroyed: libFuzzer exits the process from its own threads, and the stores'
    // threads must not be torn down under it. The directory is removed at exit.
    static world& instance() {
        static world* w = [] {
            auto* p = new world();
            static const std::filesystem::path d = p->dir;
            std::atexit([] {
                std::error_code ec;
                std::filesystem::remove_all(d, ec);
            });
            return p;
        }();
        return *w;
    }
};

}  // namespace monochat::fuzz
