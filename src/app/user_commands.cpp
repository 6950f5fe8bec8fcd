#include "app/user_commands.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/tokens.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/social_stores.hpp>

namespace monochat::app {

namespace {

namespace net = boost::asio;

// Ids made here come from a node number no server uses (servers are node 1), so that an id
// made while a server runs cannot collide with one of the server's.
constexpr std::uint32_t offline_node = 1023;
// shared/protocol.md: a reset token works for 24 hours, once.
constexpr std::int64_t reset_ttl_ms = 24LL * 3600 * 1000;

// Runs one store call to completion on this thread.
template <class T>
result<T> run(net::io_context& ioc, net::awaitable<result<T>> work) {
    result<T> out = make_error(errc::internal, "not run");
    net::co_spawn(ioc, std::move(work), [&out](std::exception_ptr e, result<T> r) {
        out = e ? result<T>(make_error(errc::internal, "the store call threw")) : std::move(r);
    });
    ioc.restart();
    ioc.run();
    return out;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "monochat: user: %s\n", what.c_str());
    return 1;
}

int add_user(const infra::config& cfg, storage::user_store& store, net::io_context& ioc,
             const std::string& name) {
    if (auto st = logic::validate_username(name); !st) {
        return fail(st.error().message);
    }
    std::string password;
    if (!std::getline(std::cin, password)) {
        return fail("add: give the password as the first line of standard input");
    }
    auto hashed = logic::hash_new_password(cfg, password);
    if (!hashed) {
        return fail(hashed.error().message);
    }
    infra::system_clock clock;
    infra::id_generator ids(clock, offline_node);
    storage::user_record rec;
    rec.id = ids.next();
    rec.username = name;
    rec.display_name = name;
    rec.password_hash = std::move(*hashed);
    rec.created_ms = clock.now_ms();
    auto created = run(ioc, store.create_user(std::move(rec)));
    if (!created) {
        return fail("add " + name + ": " + created.error().message);
    }
    std::printf("user %s created (user_id %llu)\n", name.c_str(),
                static_cast<unsigned long long>(created->id));
    return 0;
}

int reset_password(storage::user_store& store, net::io_context& ioc, const std::string& name) {
    auto user = run(ioc, store.get_user_by_username(name));
    if (!user) {
        return fail("reset-password " + name + ": " + user.error().message);
    }
    infra::system_clock clock;
    const std::string token = logic::new_token();
    const std::int64_t expires = clock.now_ms() + reset_ttl_ms;
    auto made = run(ioc, store.create_password_reset(logic::hash_token(token), user->id, expires));
    if (!made) {
        return fail("reset-password " + name + ": " + made.error().message);
    }
    std::printf("%s\n", token.c_str());
    std::fflush(stdout);
    std::fprintf(stderr,
                 "reset token for %s, valid 24 h, once: POST /api/v1/auth/reset "
                 "{\"reset_token\", \"new_password\"}\n",
                 name.c_str());
    return 0;
}

}  // namespace

int user_command(const infra::config& cfg, const std::vector<std::string>& args) {
    if (args.size() != 2 || (args[0] != "add" && args[0] != "reset-password")) {
        return fail("usage: monochat user add NAME | monochat user reset-password NAME");
    }
    if (cfg.storage.engine == "memory") {
        return fail("storage.engine = memory keeps no accounts between runs");
    }
    storage::sqlite_social_store_options opts;
    opts.path = (std::filesystem::path(cfg.storage.data_dir) / "monochat.db").string();
    opts.readers = 1;
    opts.synchronous_full = cfg.storage.sync == "always";
    infra::metrics_registry metrics;
    // Declared before the store, so that it outlives the store's threads that complete calls.
    net::io_context ioc;
    auto store = storage::open_sqlite_social_stores(opts, metrics);
    if (!store) {
        return fail("cannot open " + opts.path + ": " + store.error().message);
    }
    if (args[0] == "add") {
        return add_user(cfg, *store->users, ioc, args[1]);
    }
    return reset_password(*store->users, ioc, args[1]);
}

}  // namespace monochat::app
