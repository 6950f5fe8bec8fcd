#include "app/application.hpp"

#include "app/admin.hpp"
#include "app/integrations.hpp"
#include "app/file_modes.hpp"
#include "app/operations.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/gateway/admin_routes.hpp>
#include <monochat/gateway/integration_routes.hpp>
#include <monochat/gateway/webhook_client.hpp>
#include <monochat/logic/push.hpp>
#include <monochat/logic/webhooks.hpp>
#include <monochat/logic/wire.hpp>
#include <monochat/gateway/push_routes.hpp>
#include <monochat/storage/webhook_store.hpp>
#include <monochat/gateway/connection_registry.hpp>
#include <monochat/gateway/downstream_consumer.hpp>
#include <monochat/gateway/file_routes.hpp>
#include <monochat/gateway/http_server.hpp>
#include <monochat/gateway/message_routes.hpp>
#include <monochat/gateway/ops_routes.hpp>
#include <monochat/gateway/rest_routes.hpp>
#include <monochat/gateway/search_routes.hpp>
#include <monochat/gateway/static_routes.hpp>
#include <monochat/gateway/websocket_gateway.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/infra/thread_name.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/conversations.hpp>
#include <monochat/logic/delivery.hpp>
#include <monochat/logic/files.hpp>
#include <monochat/logic/messaging.hpp>
#include <monochat/logic/moderation.hpp>
#include <monochat/logic/search.hpp>
#include <monochat/logic/seeding.hpp>
#include <monochat/logic/social.hpp>
#include <monochat/task/fanout_worker.hpp>
#include <monochat/task/search_indexer.hpp>
#include <monochat/storage/file_store.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <monochat/storage/search_index.hpp>
#include <monochat/storage/social_stores.hpp>
#include <thread>
#include <unistd.h>

#ifndef MONOCHAT_VERSION
#define MONOCHAT_VERSION "unknown"
#endif
#ifndef MONOCHAT_COMMIT
#define MONOCHAT_COMMIT "unknown"
#endif

namespace monochat::app {

namespace net = boost::asio;

namespace {

struct stores {
    std::unique_ptr<storage::message_log> log;
    // The social store's roles, behind their caches.
    storage::social_stores social;
    std::unique_ptr<storage::search_index> search;
    std::unique_ptr<storage::file_store> files;
    std::unique_ptr<storage::webhook_store> webhooks;
    storage::sent_recorder* sent = nullptr;         // owned by `social`
    storage::member_snapshots* members = nullptr;   // owned by `social`
    storage::directory_snapshots* users = nullptr;  // owned by `social`
};

std::filesystem::path messages_path(const infra::config& cfg) {
    return std::filesystem::path(cfg.storage.data_dir) / "messages";
}
std::filesystem::path social_path(const infra::config& cfg) {
    return std::filesystem::path(cfg.storage.data_dir) / "monochat.db";
}
// Its own file, so that indexing never waits for the social store's writer. Derived data: a
// missing or older file is rebuilt from the message log by the indexer.
// Outgoing webhooks' registrations and delivery cursors (issue 21): a file of its own, so that a
// cursor write never waits behind the social store's writer.
std::filesystem::path webhooks_path(const infra::config& cfg) {
    return std::filesystem::path(cfg.storage.data_dir) / "webhooks.db";
}
// The VAPID key pair of Web Push (issue 21): made at the first start, kept for good (browsers
// subscribed with its public key), backed up with the rest.
std::filesystem::path vapid_key_path(const infra::config& cfg) {
    return std::filesystem::path(cfg.storage.data_dir) / "vapid_private.pem";
}
std::filesystem::path search_path(const infra::config& cfg) {
    return std::filesystem::path(cfg.storage.data_dir) / "search.db";
}

result<stores> open_stores(const infra::config& cfg, const infra::clock& clock,
                           infra::metrics_registry& metrics) {
    stores s;
    auto opts = storage::message_log_options_from_config(cfg.storage, cfg.policy, clock, metrics);
    if (!opts) {
        return opts.error();
    }
    opts->path = messages_path(cfg).string();
    if (cfg.storage.engine == "memory") {
        s.log = storage::make_memory_message_log(*opts);
    } else {
        auto log = storage::open_rocksdb_message_log(*opts);
        if (!log) {
            return log.error();
        }
        s.log = std::move(*log);
    }
    storage::sqlite_social_store_options sopts;
    // The memory engine keeps nothing between runs: its relational half lives in a file that
    // is recreated at every start.
    sopts.path = social_path(cfg).string();
    if (cfg.storage.engine == "memory") {
        std::error_code ec;
        std::filesystem::remove(sopts.path, ec);
        std::filesystem::remove(sopts.path + "-wal", ec);
        std::filesystem::remove(sopts.path + "-shm", ec);
    }
    sopts.readers = static_cast<std::size_t>(cfg.storage.sqlite_readers);
    sopts.synchronous_full = cfg.storage.sync == "always";
    // The group event journal (outgoing webhooks' membership events) records where in the
    // group's messages each change falls.
    sopts.clock = &clock;
    sopts.group_last_seq = [log = s.log.get()](std::uint64_t group_id) {
        return log->last_seq(logic::group_conversation_id(group_id));
    };
    auto social = storage::open_sqlite_social_stores(sopts, metrics);
    if (!social) {
        return social.error();
    }
    auto& set = *social;
    // A send's own read position and a new direct chat's listing reach SQLite in batches, off
    // the send path; reads of read state, and backups, wait for them (read_state_buffer.cpp).
    storage::read_state_buffer_options ropts;
    ropts.flush_delay = std::chrono::milliseconds(cfg.storage.read_state_flush_ms);
    auto buffered = storage::make_read_state_buffer(std::move(set.read_state), std::move(set.admin),
                                                    *s.log, ropts, metrics);
    if (!buffered) {
        return buffered.error();
    }
    set.read_state = std::move(buffered->read_state);
    set.admin = std::move(buffered->admin);
    s.sent = buffered->recorder;
    // Sends check membership and route by it on every group message: hot groups' members
    // are served from a bounded cache that membership changes evict.
    set.groups = storage::make_membership_cache(std::move(set.groups), *set.changes, {}, metrics,
                                                &s.members);
    // A direct chat's send checks both users and their friendship: from memory as well.
    storage::directory_cache_options dopts;
    dopts.max_users = static_cast<std::size_t>(cfg.storage.cache_users);
    dopts.max_friendships = static_cast<std::size_t>(cfg.storage.cache_friendships);
    auto directory = storage::make_directory_cache(std::move(set.users), std::move(set.relations),
                                                   *set.changes, dopts, metrics);
    set.users = std::move(directory.users);
    set.relations = std::move(directory.relations);
    s.users = directory.snapshots;
    s.social = std::move(set);
    storage::sqlite_search_index_options xopts;
    xopts.path = search_path(cfg).string();
    if (cfg.storage.engine == "memory") {
        // Positions of a previous run would skip the new run's messages.
        std::error_code ec;
        std::filesystem::remove(xopts.path, ec);
        std::filesystem::remove(xopts.path + "-wal", ec);
        std::filesystem::remove(xopts.path + "-shm", ec);
    }
    xopts.readers = static_cast<std::size_t>(cfg.search.readers);
    auto search = storage::open_sqlite_search_index(xopts, metrics);
    if (!search) {
        return search.error();
    }
    s.search = std::move(*search);
    if (cfg.storage.engine == "memory") {
        // Files of a previous run would outlive the messages that shared them.
        std::error_code ec;
        const auto dir = std::filesystem::path(cfg.storage.data_dir);
        std::filesystem::remove_all(dir / "files", ec);
        std::filesystem::remove(dir / "files.db", ec);
        std::filesystem::remove(dir / "files.db-wal", ec);
        std::filesystem::remove(dir / "files.db-shm", ec);
    }
    storage::file_store_options fopts;
    fopts.data_dir = cfg.storage.data_dir;
    fopts.synchronous_full = cfg.storage.sync == "always";
    auto files = storage::file_store::open(fopts);
    if (!files) {
        return files.error();
    }
    s.files = std::move(*files);
    storage::sqlite_webhook_store_options wopts;
    wopts.path = webhooks_path(cfg).string();
    if (cfg.storage.engine == "memory") {
        // Cursors of a previous run's log would point past the new run's messages.
        std::error_code ec;
        std::filesystem::remove(wopts.path, ec);
        std::filesystem::remove(wopts.path + "-wal", ec);
        std::filesystem::remove(wopts.path + "-shm", ec);
    }
    wopts.synchronous_full = cfg.storage.sync == "always";
    auto webhooks = storage::open_sqlite_webhook_store(wopts, metrics);
    if (!webhooks) {
        return webhooks.error();
    }
    s.webhooks = std::move(*webhooks);
    return s;
}

void apply_logging(const infra::config& cfg) {
    infra::log::level l = infra::log::level::info;
    infra::log::parse_level(cfg.log.level, l);
    infra::log::set_level(l);
    infra::log::set_format(cfg.log.format == "json" ? infra::log::format::json
                                                    : infra::log::format::logfmt);
}

// Everything the server is made of, constructed in dependency order and destroyed in reverse.
class server {
public:
    server(const infra::config& cfg, std::optional<std::string> config_path)
        : cfg_(cfg), config_path_(std::move(config_path)), ids_(clock_, 1) {}

    int run() {
        apply_logging(cfg_);
        std::error_code fs_ec;
        std::filesystem::create_directories(cfg_.storage.data_dir, fs_ec);
        if (fs_ec) {
            infra::log::error("app", "cannot create data directory",
                              {{"dir", cfg_.storage.data_dir}, {"error", fs_ec.message()}});
            return 1;
        }
        // A data directory made by an older version (or by hand) may be group or world readable.
        if (const auto ec = restrict_tree(cfg_.storage.data_dir)) {
            infra::log::warn("app", "cannot restrict the data directory's permissions",
                             {{"dir", cfg_.storage.data_dir}, {"error", ec.message()}});
        }
        metrics_.get_gauge("monochat_build_info", "Build version and commit; the value is always 1.",
                           {{"version", MONOCHAT_VERSION}, {"commit", MONOCHAT_COMMIT}})
            .set(1);
        infra::traces().set_capacity(static_cast<std::size_t>(cfg_.trace.buffer_messages));
        infra::traces().set_sample_every(static_cast<std::uint64_t>(cfg_.trace.sample_every));

        const auto opened_at = std::chrono::steady_clock::now();
        auto st = open_stores(cfg_, clock_, metrics_);
        if (!st) {
            infra::log::error("app", "cannot open storage",
                              {{"dir", cfg_.storage.data_dir}, {"error", st.error().message}});
            return 1;
        }
        stores_ = std::move(*st);
        infra::log::info("app", "storage open",
                         {{"engine", cfg_.storage.engine},
                          {"conversations", stores_.log->conversations().size()},
                          {"ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - opened_at)
                                     .count()}});

        bus_ = bus::make_memory_bus(metrics_);
        bus_->declare(logic::downstream_topic,
                      {4, static_cast<std::size_t>(cfg_.fanout.queue_capacity)});
        wire_lost_pushes();

        // Moderation (mutes, blocks) in memory for the send path, read from the store once.
        {
            net::io_context loading;
            status loaded = make_error(errc::internal, "moderation state not loaded");
            net::co_spawn(loading, moderation_.load(*stores_.social.admin, *stores_.social.groups, *stores_.social.relations),
                          [&loaded](std::exception_ptr e, status r) {
                              loaded = e ? status(make_error(errc::internal, "load threw")) : r;
                          });
            loading.run();
            if (!loaded) {
                infra::log::error("app", "cannot read moderation state",
                                  {{"error", loaded.error().message}});
                return 1;
            }
        }

        // Logic. Issue 4's accounts service replaces authenticate_ when it is wired.
        access_ = std::make_unique<logic::access_control>(
            *stores_.social.users, *stores_.social.relations, *stores_.social.groups, live_, stores_.users,
                                                          stores_.members, &moderation_, &clock_);
        files_ = logic::make_file_service(
            {*stores_.files, *access_, live_, clock_, ids_, metrics_, stores_.social.users.get()});
        messaging_ = logic::make_messaging_service({*stores_.log, *stores_.social.groups,
                                                    *stores_.social.read_state,
                                                    *stores_.social.relations, *bus_, *access_,
                                                    registry_, live_, clock_, ids_, metrics_,
                                                    &delivery_guard_, stores_.sent,
                                                    &downstream_consumer_, stores_.members,
                                                    files_.get()});
        messaging_->start();

        // Accounts, friends, groups and conversations (issue 4); the registry answers `online`.
        const auto& roles = stores_.social;
        const logic::dependencies social_deps{*roles.users, *roles.relations, *roles.groups,
                                              *roles.read_state, *roles.admin, *stores_.log, *bus_, live_, clock_,
                                              ids_, registry_, metrics_, &moderation_,
                                              &downstream_consumer_, stores_.members,
                                              files_.get()};
        accounts_ = logic::make_accounts(social_deps);
        social_ = logic::make_social(social_deps, &group_cleanup_);
        conversations_ = logic::make_conversations(social_deps);
        authenticate_ = [this](std::string token) {
            return accounts_->authenticate(std::move(token));
        };
        mark_read_ = [this](logic::identity who, std::string cid, std::uint64_t seq,
                            std::uint64_t session) -> net::awaitable<status> {
            auto ref = logic::parse_conversation_id(cid);
            if (!ref) {
                co_return ref.error();
            }
            logic::read_options options;
            options.exclude_session = session;
            auto moved = co_await conversations_->mark_read(std::move(who), std::move(*ref), seq,
                                                            options);
            if (!moved) {
                co_return moved.error();
            }
            co_return status{};
        };

        // Task.
        fanout_ = std::make_unique<task::fanout_worker>(*bus_, *stores_.social.groups, live_, metrics_,
                                                        &delivery_guard_, &downstream_consumer_,
                                                        stores_.members);
        if (auto st = fanout_->start(); !st) {
            infra::log::error("app", "cannot start fan-out", {{"error", st.error().message}});
            return 1;
        }

        // Search: the indexer takes every commit of the log, off the send path.
        task::search_indexer_options indexer_opts;
        indexer_opts.max_batch = static_cast<std::size_t>(cfg_.search.max_batch);
        indexer_opts.batch_delay = std::chrono::milliseconds(cfg_.search.batch_delay_ms);
        indexer_ = std::make_unique<task::search_indexer>(*stores_.log, *stores_.search, clock_,
                                                          metrics_, indexer_opts);
        if (auto st = indexer_->start(); !st) {
            infra::log::error("app", "cannot start the search indexer", {{"error", st.error().message}});
            return 1;
        }
        search_ = std::make_unique<logic::search_service>(*stores_.search, *stores_.log,
                                                          *stores_.social.groups,
                                                          *stores_.social.read_state, *access_);

        // Gateway.
        http_limits_.apply(cfg_);
        ws_limits_.apply(cfg_);
        gateway::add_ops_routes(routes_, health_, metrics_);
        // Hot reload: SIGHUP (and the admin API) re-read the file; live keys take effect in
        // place, connections stay open.
        reloader_ = std::make_unique<config_reloader>(
            config_path_, live_, metrics_, [this](const infra::config& next) { return apply_live(next); });
        // The admin API (issue 11): every action goes to the audit log in the data dir.
        audit_ = std::make_unique<audit_log>(std::filesystem::path(cfg_.storage.data_dir) /
                                             "audit.log");
        if (auto st = audit_->open(); !st) {
            infra::log::error("app", "cannot open the audit log", {{"error", st.error().message}});
            return 1;
        }
        admin_ = std::make_unique<admin_service>(admin_dependencies{
            live_, *reloader_, *audit_, *accounts_, *social_, *messaging_, *stores_.log,
            *stores_.social.admin, *stores_.social.read_state, registry_, infra::traces(), [this] { return server_stats(); }, files_.get(),
            stores_.webhooks.get()});
        gateway::add_admin_routes(routes_, *admin_);
        // Outgoing webhooks (issue 21): they follow the log's commits like the indexer, and
        // deliver from the I/O threads through gateway's Beast client.
        webhook_client_ = gateway::make_webhook_client(ioc_);
        webhooks_ = logic::make_webhooks({*stores_.webhooks, *stores_.log, *stores_.social.groups, *webhook_client_, live_,
                                          clock_, ids_, metrics_, ioc_});
        if (auto st = webhooks_->start(); !st) {
            infra::log::error("app", "cannot start webhooks", {{"error", st.error().message}});
            return 1;
        }
        // Web Push (issue 21): follows the log's commits too, and sends through the same client.
        {
            auto push = logic::make_web_push({*stores_.social.users, *stores_.social.groups,
                                              *stores_.social.read_state, *stores_.log, *webhook_client_,
                                              registry_, live_, clock_, metrics_, ioc_,
                                              vapid_key_path(cfg_).string()});
            if (!push) {
                infra::log::error("app", "cannot start Web Push", {{"error", push.error().message}});
                return 1;
            }
            push_ = std::move(*push);
        }
        if (auto st = push_->start(); !st) {
            infra::log::error("app", "cannot start Web Push", {{"error", st.error().message}});
            return 1;
        }
        // Bots and webhooks (issue 21), behind the same admin gate.
        integrations_ = std::make_unique<integrations_service>(
            integrations_dependencies{*audit_, *accounts_, *webhooks_});
        gateway::add_integration_routes(routes_, *admin_, *integrations_);
        const gateway::authenticator authenticate = [this](std::string token) {
            return authenticate_(std::move(token));
        };
        gateway::add_message_routes(routes_, authenticate, *messaging_);
        gateway::add_search_routes(routes_, authenticate, *search_);
        gateway::add_push_routes(routes_, authenticate, *push_);
        gateway::add_file_routes(routes_, authenticate, *files_);
        gateway::add_rest_routes(routes_, {*accounts_, *social_, *conversations_});
        // The web client answers every path no route above takes (never /api/...).
        gateway::add_static_routes(routes_, gateway::web_client_assets());
        gateway::ws_dependencies ws_deps;
        ws_deps.authenticate = authenticate;
        ws_deps.mark_read = [this](logic::identity who, std::string cid, std::uint64_t seq,
                                   std::uint64_t session) {
            return mark_read_(std::move(who), std::move(cid), seq, session);
        };
        ws_deps.messaging = messaging_.get();
        ws_ = std::make_unique<gateway::websocket_gateway>(registry_, std::move(ws_deps), ws_limits_,
                                                           metrics_, clock_);
        auto downstream = bus_->subscribe(logic::downstream_topic, "gateway",
                                          [this](const bus::envelope& e) {
                                              std::string_view trace;
                                              for (const auto& [name, value] : e.hdrs) {
                                                  if (name == "trace") {
                                                      trace = value;
                                                  }
                                              }
                                              downstream_consumer_.deliver(*e.payload, trace);
                                          });
        if (!downstream) {
            infra::log::error("app", "cannot subscribe gateway", {{"error", downstream.error().message}});
            return 1;
        }
        downstream_ = std::move(*downstream);
        http_ = std::make_unique<gateway::http_server>(ioc_, http_limits_, routes_, metrics_);
        http_->set_upgrade_handler(ws_->handler());
        if (auto st = http_->reload_tls(cfg_.server.tls); !st) {
            infra::log::error("app", "cannot start", {{"error", st.error().message}});
            return 1;
        }
        auto addr = http_->listen(cfg_.server.host, static_cast<std::uint16_t>(cfg_.server.port));
        if (!addr) {
            infra::log::error("app", "cannot start", {{"error", addr.error().message}});
            return 1;
        }
        infra::log::info("app", "listening",
                         {{"addr", *addr}, {"version", MONOCHAT_VERSION},
                          {"tls", http_->tls_enabled() ? "on" : "off"},
                          {"data_dir", cfg_.storage.data_dir}});
        health_.ready = true;

        net::signal_set hangup(ioc_, SIGHUP);
        wait_for_hangup(hangup);

        net::signal_set signals(ioc_, SIGINT, SIGTERM);
        wait_for_signal(signals);

        net::co_spawn(ioc_, finish_deleted_groups(), net::detached);
        net::co_spawn(ioc_, sweep_expired(), net::detached);
        net::co_spawn(ioc_, sweep_files(), net::detached);

        const auto n = io_thread_count();
        std::vector<std::thread> threads;
        for (unsigned i = 1; i < n; ++i) {
            threads.emplace_back([this] {
                infra::name_this_thread("mc-io");
                ioc_.run();
            });
        }
        // This thread keeps the process's name ("monochat"), which ps and pidof show.
        ioc_.run();
        for (auto& t : threads) {
            t.join();
        }
        // Layers stop in reverse order of construction: the listener is closed already. The log
        // completes pending appends first; their deliveries find no sessions and are dropped.
        http_.reset();
        stores_.log->close();
        downstream_.reset();
        fanout_->stop();
        indexer_->stop();
        webhooks_->stop();
        push_->stop();
        messaging_->stop();
        files_->stop();
        bus_->shutdown();
        stores_.search.reset();
        stores_.files.reset();
        integrations_.reset();
        webhooks_.reset();
        push_.reset();
        stores_.webhooks.reset();
        // The read-state buffer's last flush needs the log: the roles go first.
        stores_.social = storage::social_stores{};
        stores_.log.reset();
        infra::log::info("app", "stopped");
        return 0;
    }

private:
    // The threads that run the io_context (server.io_threads; 0: one per core).
    unsigned io_thread_count() const {
        return cfg_.server.io_threads > 0 ? static_cast<unsigned>(cfg_.server.io_threads)
                                          : std::max(1U, std::thread::hardware_concurrency());
    }

    // What a reload changes besides the published snapshot: modules that copied values at
    // start. Logic, task and access read the snapshot per operation.
    // TLS goes first: it is the only step that can fail, and a failure must leave everything
    // as it was (the reload is then refused as a whole).
    status apply_live(const infra::config& next) {
        // Re-reads the certificate files, so a renewed certificate at the same path is picked
        // up; a bad file keeps the running certificate.
        if (http_) {
            if (auto st = http_->reload_tls(next.server.tls); !st) {
                return st;
            }
        }
        apply_logging(next);
        infra::traces().set_capacity(static_cast<std::size_t>(next.trace.buffer_messages));
        infra::traces().set_sample_every(static_cast<std::uint64_t>(next.trace.sample_every));
        http_limits_.apply(next);
        ws_limits_.apply(next);
        return {};
    }

    // A committed message that some sessions will never be pushed (a delivery queue stayed
    // full, members could not be read): those sessions are closed with 4009 now, on the
    // reporting thread and without the bus, before the conversation's next message can reach
    // them; the clients reconnect and sync (protocol guarantee 3, bus/delivery_guard.hpp).
    void wire_lost_pushes() {
        auto& lost = metrics_.get_counter(
            "monochat_push_lost_total",
            "Committed messages some live sessions missed; those sessions were closed with 4009.");
        delivery_guard_.set_lost_handler([this, &lost](const bus::lost_push& p) {
            lost.inc();
            infra::log::warn("app", "push lost; closing the sessions that missed it",
                             {{"conversation", p.conversation_id}, {"seq", p.seq},
                              {"users", p.everyone ? std::string("all")
                                                   : std::to_string(p.user_ids.size())}});
            const std::string reason = "push lost; reconnect and sync";
            if (p.everyone) {
                registry_.close_all(bus::close_push_lost, reason);
                return;
            }
            for (const auto user : p.user_ids) {
                registry_.close_user(user, bus::close_push_lost, reason);
            }
        });
    }

    // Group deletions a crash (or a failure) left half done: their tombstones are read once at
    // start, after every service the cleanup uses is running.
    net::awaitable<void> finish_deleted_groups() {
        auto finished = co_await social_->finish_deleted_groups();
        if (!finished) {
            infra::log::warn("app", "deleted groups not cleaned up; retried at the next start",
                             {{"error", finished.error().message}});
        }
    }

    // Expired tokens and idle guests go every auth.sweep_interval_s (read each round, so a
    // reload applies from the next one). The coroutine only waits: the purge runs on the SQLite
    // writer, in batches. It ends with the io_context at stop.
    net::awaitable<void> sweep_expired() {
        net::steady_timer timer(ioc_);
        for (;;) {
            timer.expires_after(std::chrono::seconds(live_.get()->auth.sweep_interval_s));
            auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            if (ec) {
                co_return;
            }
            auto swept = co_await accounts_->sweep();
            if (!swept) {
                infra::log::warn("app", "expiry sweep failed; retried at the next interval",
                                 {{"error", swept.error().message}});
            }
        }
    }

    // Unshared files past files.unshared_ttl_s go every files.sweep_interval_s (both read each
    // round). The deletes run on the file service's store thread.
    net::awaitable<void> sweep_files() {
        net::steady_timer timer(ioc_);
        for (;;) {
            timer.expires_after(std::chrono::seconds(live_.get()->files.sweep_interval_s));
            auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
            if (ec) {
                co_return;
            }
            auto swept = co_await files_->sweep();
            if (!swept) {
                infra::log::warn("app", "file sweep failed; retried at the next interval",
                                 {{"error", swept.error().message}});
            } else if (*swept > 0) {
                infra::log::info("app", "unshared files expired", {{"files", *swept}});
            }
        }
    }

    // Counters of objects the admin backend does not hold, for GET /api/v1/admin/stats.
    std::string server_stats() const {
        return "{\"version\":\"" MONOCHAT_VERSION "\",\"commit\":\"" MONOCHAT_COMMIT
               "\",\"http_connections\":" +
               std::to_string(http_ ? http_->open_connections() : 0) +
               ",\"websocket_sessions\":" + std::to_string(ws_ ? ws_->sessions() : 0) + "}";
    }

    void wait_for_hangup(net::signal_set& hangup) {
        hangup.async_wait([this, &hangup](const boost::system::error_code& ec, int) {
            if (ec || stopping_) {
                return;
            }
            // Reading a small file: cheap enough for an I/O thread, and rare.
            (void)reloader_->reload_file("sighup");  // the outcome is logged and counted
            wait_for_hangup(hangup);
        });
    }

    void wait_for_signal(net::signal_set& signals) {
        signals.async_wait([this, &signals](const boost::system::error_code& ec, int sig) {
            if (ec) {
                return;
            }
            if (stopping_) {
                // A second signal: the operator wants out now.
                infra::log::warn("app", "second signal, exiting at once", {{"signal", sig}});
                std::_Exit(1);
            }
            stopping_ = true;
            infra::log::info("app", "stopping", {{"signal", sig}});
            wait_for_signal(signals);
            net::co_spawn(ioc_, graceful_stop(), net::detached);
        });
    }

    // Seastar's gate: refuse new work, then wait for the running work, within a deadline.
    net::awaitable<void> graceful_stop() {
        health_.draining = true;
        net::steady_timer timer(ioc_);
        const auto live = live_.get();
        if (live->server.drain_delay_ms > 0) {
            timer.expires_after(std::chrono::milliseconds(live->server.drain_delay_ms));
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        http_->stop_accepting();
        ws_->close_all(1001);
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(live->server.shutdown_timeout_ms);
        for (;;) {
            http_->close_idle();
            if (http_->open_connections() == 0) {
                break;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                infra::log::warn("app", "stop deadline reached with connections open",
                                 {{"open", http_->open_connections()}});
                break;
            }
            timer.expires_after(std::chrono::milliseconds(20));
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        ioc_.stop();
    }

    const infra::config cfg_;
    const std::optional<std::string> config_path_;
    infra::live_config live_{cfg_};
    infra::system_clock clock_;
    infra::id_generator ids_;
    infra::metrics_registry metrics_;
    net::io_context ioc_;
    stores stores_;
    // Sessions are registered here; logic reads it as its presence_view.
    gateway::connection_registry registry_;
    // Where logic's router and task's fan-out worker push committed messages.
    gateway::downstream_consumer downstream_consumer_{
        registry_, metrics_, ioc_.get_executor(), io_thread_count(),
        static_cast<std::size_t>(cfg_.fanout.lane_batch),
        static_cast<std::size_t>(cfg_.fanout.wake_chunk)};
    std::unique_ptr<bus::message_bus> bus_;
    // Shared by the router (logic) and the fan-out worker (task); outlives both.
    bus::delivery_guard delivery_guard_;
    logic::moderation_state moderation_;
    std::unique_ptr<logic::access_control> access_;
    std::unique_ptr<logic::file_service> files_;
    std::unique_ptr<logic::messaging_service> messaging_;
    std::unique_ptr<logic::accounts> accounts_;
    std::unique_ptr<logic::social> social_;
    std::unique_ptr<logic::conversations> conversations_;
    std::function<net::awaitable<result<logic::identity>>(std::string)> authenticate_ =
        [](std::string) -> net::awaitable<result<logic::identity>> {
        co_return make_error(errc::unauthenticated, "accounts are not wired");
    };
    std::function<net::awaitable<status>(logic::identity, std::string, std::uint64_t, std::uint64_t)>
        mark_read_ = [](logic::identity, std::string, std::uint64_t,
                        std::uint64_t) -> net::awaitable<status> {
        co_return make_error(errc::unavailable, "read state is not wired");
    };
    std::unique_ptr<task::fanout_worker> fanout_;
    std::unique_ptr<task::search_indexer> indexer_;
    std::unique_ptr<logic::search_service> search_;
    gateway::ws_limits ws_limits_;
    std::unique_ptr<gateway::websocket_gateway> ws_;
    std::unique_ptr<bus::subscription> downstream_;
    gateway::health_state health_;
    gateway::http_limits http_limits_;
    gateway::router routes_;
    std::unique_ptr<gateway::http_server> http_;
    std::unique_ptr<config_reloader> reloader_;
    std::unique_ptr<audit_log> audit_;
    std::unique_ptr<admin_service> admin_;
    std::unique_ptr<logic::webhook_transport> webhook_client_;
    std::unique_ptr<logic::webhooks> webhooks_;
    std::unique_ptr<logic::web_push> push_;
    std::unique_ptr<integrations_service> integrations_;
    bool stopping_ = false;
    // What a deleted group leaves outside the social store and the log: the search index, the
    // files, the webhooks. Reaches them through the members above, which are set before the
    // first request (and the start-up sweep) can delete anything.
    class group_cleanup final : public logic::conversation_cleanup {
    public:
        explicit group_cleanup(server& s) : s_(s) {}
        net::awaitable<status> conversation_dropped(std::string conversation_id) override {
            s_.indexer_->forget(conversation_id);
            if (auto st = co_await s_.files_->forget_conversation(conversation_id); !st) {
                co_return st;
            }
            co_return co_await s_.webhooks_->forget_conversation(std::move(conversation_id));
        }

    private:
        server& s_;
    };
    group_cleanup group_cleanup_{*this};
};

}  // namespace

int run(const infra::config& cfg, std::optional<std::string> config_path) {
    try {
        server s(cfg, std::move(config_path));
        return s.run();
    } catch (const std::exception& e) {
        infra::log::error("app", "fatal", {{"error", e.what()}});
        return 1;
    }
}

int backup(const infra::config& cfg, const std::string& dir) {
    namespace fs = std::filesystem;
    if (cfg.storage.engine != "rocksdb") {
        std::fprintf(stderr, "monochat: backup needs storage.engine = rocksdb\n");
        return 1;
    }
    if (fs::exists(dir)) {
        std::fprintf(stderr, "monochat: backup: %s exists; name a new directory\n", dir.c_str());
        return 1;
    }
    infra::system_clock clock;
    infra::metrics_registry metrics;
    // Declared before the stores so that it outlives them: the SQLite thread that completes
    // backup_to may still be waking this context after run() returned, until the stores join
    // their threads (ThreadSanitizer saw the context destroyed under it).
    net::io_context ioc;
    // Opening takes the data directory's locks: a running server makes this fail, and the
    // message says so (a running server is backed up through its admin API instead).
    auto st = open_stores(cfg, clock, metrics);
    if (!st) {
        std::fprintf(stderr, "monochat: backup: cannot open %s (is a server running on it?): %s\n",
                     cfg.storage.data_dir.c_str(), st.error().message.c_str());
        return 1;
    }
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        std::fprintf(stderr, "monochat: backup: cannot create %s: %s\n", dir.c_str(),
                     ec.message().c_str());
        return 1;
    }
    if (auto cp = st->log->checkpoint((fs::path(dir) / "messages").string()); !cp) {
        std::fprintf(stderr, "monochat: backup: %s\n", cp.error().message.c_str());
        return 1;
    }
    status social_status;
    net::co_spawn(ioc, st->social.admin->backup_to((fs::path(dir) / "monochat.db").string()),
                  [&](std::exception_ptr e, status r) {
                      social_status = e ? status(make_error(errc::internal, "backup failed")) : r;
                  });
    // Webhooks and their cursors: without them a restored server would forget its webhooks.
    status webhooks_status;
    net::co_spawn(ioc, st->webhooks->backup_to((fs::path(dir) / "webhooks.db").string()),
                  [&](std::exception_ptr e, status r) {
                      webhooks_status = e ? status(make_error(errc::internal, "backup failed")) : r;
                  });
    ioc.run();
    for (const status* s : {&social_status, &webhooks_status}) {
        if (!*s) {
            std::fprintf(stderr, "monochat: backup: %s\n", s->error().message.c_str());
            return 1;
        }
    }
    if (fs::exists(vapid_key_path(cfg))) {
        std::error_code copy_ec;
        fs::copy_file(vapid_key_path(cfg), fs::path(dir) / "vapid_private.pem", copy_ec);
        if (copy_ec) {
            std::fprintf(stderr, "monochat: backup: the VAPID key: %s\n", copy_ec.message().c_str());
            return 1;
        }
    }
    if (auto files = st->files->backup_to(dir); !files) {
        std::fprintf(stderr, "monochat: backup: %s\n", files.error().message.c_str());
        return 1;
    }
    if (const auto mode_ec = restrict_tree(dir)) {
        std::fprintf(stderr, "monochat: backup: cannot restrict permissions of %s: %s\n", dir.c_str(),
                     mode_ec.message().c_str());
        return 1;
    }
    std::printf("backup written to %s\n", dir.c_str());
    return 0;
}

int restore(const infra::config& cfg, const std::string& dir) {
    namespace fs = std::filesystem;
    const fs::path from(dir);
    if (!fs::is_directory(from / "messages") || !fs::is_regular_file(from / "monochat.db")) {
        std::fprintf(stderr, "monochat: restore: %s is not a monochat backup\n", dir.c_str());
        return 1;
    }
    const fs::path to(cfg.storage.data_dir);
    std::error_code ec;
    if (fs::exists(to) && !fs::is_empty(to, ec)) {
        std::fprintf(stderr,
                     "monochat: restore: %s is not empty; move it away first (restore never "
                     "overwrites data)\n",
                     to.c_str());
        return 1;
    }
    fs::create_directories(to, ec);
    fs::copy(from / "messages", to / "messages", fs::copy_options::recursive, ec);
    if (!ec) {
        fs::copy_file(from / "monochat.db", to / "monochat.db", ec);
    }
    // Backups made before webhooks existed have no webhooks.db: the server then starts without.
    if (!ec && fs::is_regular_file(from / "webhooks.db")) {
        fs::copy_file(from / "webhooks.db", to / "webhooks.db", ec);
    }
    // Without the VAPID key browsers' subscriptions would be useless: a new key means every
    // browser must subscribe again.
    if (!ec && fs::is_regular_file(from / "vapid_private.pem")) {
        fs::copy_file(from / "vapid_private.pem", to / "vapid_private.pem", ec);
    }
    if (ec) {
        std::fprintf(stderr, "monochat: restore: %s\n", ec.message().c_str());
        return 1;
    }
    if (auto files = storage::restore_files(dir, to.string()); !files) {
        std::fprintf(stderr, "monochat: restore: %s\n", files.error().message.c_str());
        return 1;
    }
    if (const auto mode_ec = restrict_tree(to.string())) {
        std::fprintf(stderr, "monochat: restore: cannot restrict permissions of %s: %s\n",
                     to.c_str(), mode_ec.message().c_str());
        return 1;
    }
    std::printf("restored %s into %s\n", dir.c_str(), to.c_str());
    return 0;
}

}  // namespace monochat::app

namespace monochat::app {

namespace {

// Parses `monochat seed`'s options into `r`; prints why and returns false on a bad one.
bool parse_seed_args(const std::vector<std::string>& args, logic::seed_request& r,
                     std::string& out_path) {
    auto count = [](const std::string& name, const std::string& text, std::uint64_t& v) {
        try {
            std::size_t used = 0;
            v = std::stoull(text, &used);
            if (used == text.size() && !text.empty() && text[0] != '-') {
                return true;
            }
        } catch (const std::exception&) {
        }
        std::fprintf(stderr, "monochat: seed: %s needs a count, not %s\n", name.c_str(),
                     text.c_str());
        return false;
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--private") {
            r.group_public = false;
            continue;
        }
        if (i + 1 >= args.size()) {
            std::fprintf(stderr, "monochat: seed: %s needs a value\n", a.c_str());
            return false;
        }
        const std::string& v = args[++i];
        if (a == "--users") {
            if (!count(a, v, r.users)) {
                return false;
            }
        } else if (a == "--group-members") {
            if (!count(a, v, r.group_members)) {
                return false;
            }
        } else if (a == "--tokens") {
            if (!count(a, v, r.tokens)) {
                return false;
            }
        } else if (a == "--prefix") {
            r.username_prefix = v;
        } else if (a == "--password") {
            r.password = v;
        } else if (a == "--group-name") {
            r.group_name = v;
        } else if (a == "--out") {
            out_path = v;
        } else {
            std::fprintf(stderr, "monochat: seed: unknown option %s\n", a.c_str());
            return false;
        }
    }
    return true;
}

}  // namespace

int seed(const infra::config& cfg, const std::vector<std::string>& args) {
    logic::seed_request request;
    request.username_prefix = "seed";
    request.password = "seed-password";
    std::string out_path;
    if (!parse_seed_args(args, request, out_path)) {
        return 2;
    }
    if (cfg.storage.engine == "memory") {
        std::fprintf(stderr, "monochat: seed: storage.engine \"memory\" keeps nothing to seed\n");
        return 2;
    }
    request.argon2_ops = static_cast<std::uint64_t>(cfg.auth.argon2_ops);
    request.argon2_memory_kib = static_cast<std::uint64_t>(cfg.auth.argon2_memory_kib);
    request.token_ttl_s = cfg.auth.token_ttl_s;
    request.synchronous_full = cfg.storage.sync == "always";
    request.db_path = social_path(cfg).string();

    const auto started = std::chrono::steady_clock::now();
    infra::system_clock clock;
    infra::metrics_registry metrics;
    std::error_code ec;
    std::filesystem::create_directories(cfg.storage.data_dir, ec);
    // Opening takes the data directory's locks and migrates the schema as a server start does:
    // a running server makes this fail, and seeding then writes a file nobody else uses.
    auto st = open_stores(cfg, clock, metrics);
    if (!st) {
        std::fprintf(stderr, "monochat: seed: cannot open %s (is a server running on it?): %s\n",
                     cfg.storage.data_dir.c_str(), st.error().message.c_str());
        return 1;
    }
    auto seeded = logic::seed_accounts(request, clock);
    if (!seeded) {
        std::fprintf(stderr, "monochat: seed: %s\n", seeded.error().message.c_str());
        return 1;
    }
    if (!out_path.empty()) {
        std::FILE* f = std::fopen(out_path.c_str(), "w");
        if (f == nullptr) {
            std::fprintf(stderr, "monochat: seed: cannot write %s\n", out_path.c_str());
            return 1;
        }
        for (const auto& u : seeded->users) {
            if (u.token.empty()) {
                break;
            }
            std::fprintf(f, "%llu %s %s\n", static_cast<unsigned long long>(u.user_id),
                         u.username.c_str(), u.token.c_str());
        }
        if (std::fclose(f) != 0) {
            std::fprintf(stderr, "monochat: seed: cannot write %s\n", out_path.c_str());
            return 1;
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto gid = std::to_string(seeded->group_id);
    std::printf(
        "{\"users\":%llu,\"first_user_id\":\"%llu\",\"prefix\":\"%s\",\"group_id\":\"%s\","
        "\"conversation_id\":\"group:%s\",\"group_members\":%llu,\"tokens\":%llu,"
        "\"seconds\":%.3f}\n",
        static_cast<unsigned long long>(seeded->users.size()),
        static_cast<unsigned long long>(seeded->users.front().user_id),
        request.username_prefix.c_str(), seeded->group_id != 0 ? gid.c_str() : "",
        seeded->group_id != 0 ? gid.c_str() : "",
        static_cast<unsigned long long>(request.group_members),
        static_cast<unsigned long long>(request.tokens), secs);
    return 0;
}

}  // namespace monochat::app
