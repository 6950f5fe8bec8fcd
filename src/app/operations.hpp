#pragma once
// Run-time operations of the server: re-reading the configuration (SIGHUP, the admin API) and
// the audit log of admin actions. Private to app.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <monochat/infra/config.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/result.hpp>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::infra {
class counter;
class gauge;
class metrics_registry;
}  // namespace monochat::infra

namespace monochat::app {

// What one reload did.
struct reload_outcome {
    bool ok = false;
    std::string error;                          // why it was refused (names the key)
    std::vector<std::string> applied;           // live keys that changed
    std::vector<std::string> restart_required;  // changed keys left for a restart
};

// Re-reads the configuration in the start-up order (defaults, file, environment), validates it
// and publishes the live keys: `apply` for the modules that copy values (TLS first, then log
// level and gateway limits), then `live.set()` for readers of the snapshot. Keys that need a
// restart are logged and keep their running values; an invalid file, or one whose `apply`
// fails (a certificate that does not load), changes nothing and counts as refused.
// Thread-safety: any thread; reloads are serialized.
class config_reloader {
public:
    // Fails without changing anything, or succeeds and applies everything.
    using apply_fn = std::function<status(const infra::config&)>;

    config_reloader(std::optional<std::string> path, infra::live_config& live,
                    infra::metrics_registry& metrics, apply_fn apply);

    // `source` names the trigger in logs and metrics ("sighup", "admin").
    reload_outcome reload_file(std::string_view source);
    // Admin settings: a JSON object of live keys applied on top of the running configuration.
    reload_outcome patch(std::string_view json_text);

    std::uint64_t reloads() const { return reloads_.load(std::memory_order_relaxed); }
    // {"reloads", "last": {"ok", "source", "error"?, "applied", "restart_required", "at_ms"}}
    std::string stats_json() const;

private:
    reload_outcome publish(const infra::config& loaded, std::string_view source);
    reload_outcome refuse(std::string error, std::string_view source);
    void remember(const reload_outcome& o, std::string_view source);

    const std::optional<std::string> path_;
    infra::live_config& live_;
    apply_fn apply_;
    infra::counter& ok_total_;
    infra::counter& refused_total_;
    infra::gauge& last_ok_;
    mutable std::mutex mutex_;  // one reload at a time; guards last_*
    std::atomic<std::uint64_t> reloads_{0};
    reload_outcome last_;
    std::string last_source_;
    std::int64_t last_at_ms_ = 0;
};

// Admin actions, one JSON object per line, appended and fsync'd before the action's answer:
// {"ts", "actor", "action", "target", "outcome", "detail", "trace"}. Also written as a log line.
// Thread-safety: any thread (one mutex; records are never interleaved).
class audit_log {
public:
    explicit audit_log(std::filesystem::path path);
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;

    [[nodiscard]] status open();
    // `detail` is a JSON value text ("null" when empty).
    void record(std::uint64_t actor, std::string_view action, std::string_view target,
                std::string_view outcome, std::string_view detail, std::string_view trace);
    const std::filesystem::path& path() const { return path_; }

private:
    const std::filesystem::path path_;
    std::mutex mutex_;
    int fd_ = -1;
};

}  // namespace monochat::app
