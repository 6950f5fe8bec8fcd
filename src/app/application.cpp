#include "app/application.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <monochat/bus/message_bus.hpp>
#include <monochat/gateway/http_server.hpp>
#include <monochat/gateway/ops_routes.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <thread>
#include <unistd.h>

#ifndef MONOCHAT_VERSION
#define MONOCHAT_VERSION "unknown"
#endif

namespace monochat::app {

namespace net = boost::asio;

namespace {

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
    explicit server(const infra::config& cfg) : cfg_(cfg), ids_(clock_, 1) {}

    int run() {
        apply_logging(cfg_);
        std::error_code fs_ec;
        std::filesystem::create_directories(cfg_.storage.data_dir, fs_ec);
        if (fs_ec) {
            infra::log::error("app", "cannot create data directory",
                              {{"dir", cfg_.storage.data_dir}, {"error", fs_ec.message()}});
            return 1;
        }
        metrics_.get_gauge("monochat_build_info", "Build version; the value is always 1.",
                           {{"version", MONOCHAT_VERSION}})
            .set(1);

        bus_ = bus::make_memory_bus(metrics_);

        http_limits_.apply(cfg_);
        gateway::add_ops_routes(routes_, health_, metrics_);
        http_ = std::make_unique<gateway::http_server>(ioc_, http_limits_, routes_, metrics_);
        auto addr = http_->listen(cfg_.server.host, static_cast<std::uint16_t>(cfg_.server.port));
        if (!addr) {
            infra::log::error("app", "cannot start", {{"error", addr.error().message}});
            return 1;
        }
        infra::log::info("app", "listening",
                         {{"addr", *addr}, {"version", MONOCHAT_VERSION},
                          {"data_dir", cfg_.storage.data_dir}});
        health_.ready = true;

        net::signal_set signals(ioc_, SIGINT, SIGTERM);
        wait_for_signal(signals);

        const auto n = cfg_.server.io_threads > 0
                           ? static_cast<unsigned>(cfg_.server.io_threads)
                           : std::max(1U, std::thread::hardware_concurrency());
        std::vector<std::thread> threads;
        for (unsigned i = 1; i < n; ++i) {
            threads.emplace_back([this] { ioc_.run(); });
        }
        ioc_.run();
        for (auto& t : threads) {
            t.join();
        }
        // Layers stop in reverse order of construction: the listener is closed already.
        http_.reset();
        bus_->shutdown();
        infra::log::info("app", "stopped");
        return 0;
    }

private:
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
        if (cfg_.server.drain_delay_ms > 0) {
            timer.expires_after(std::chrono::milliseconds(cfg_.server.drain_delay_ms));
            co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        }
        http_->stop_accepting();
        const auto deadline = std::chrono::steady_clock::now() +
                              std::chrono::milliseconds(cfg_.server.shutdown_timeout_ms);
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
    infra::system_clock clock_;
    infra::id_generator ids_;
    infra::metrics_registry metrics_;
    net::io_context ioc_;
    std::unique_ptr<bus::message_bus> bus_;
    gateway::health_state health_;
    gateway::http_limits http_limits_;
    gateway::router routes_;
    std::unique_ptr<gateway::http_server> http_;
    bool stopping_ = false;
};

}  // namespace

int run(const infra::config& cfg, std::optional<std::string> /*config_path*/) {
    try {
        server s(cfg);
        return s.run();
    } catch (const std::exception& e) {
        infra::log::error("app", "fatal", {{"error", e.what()}});
        return 1;
    }
}

int backup(const infra::config&, const std::string&) {
    std::fprintf(stderr, "monochat: backup is not available in this build\n");
    return 1;
}

int restore(const infra::config&, const std::string&) {
    std::fprintf(stderr, "monochat: restore is not available in this build\n");
    return 1;
}

}  // namespace monochat::app
