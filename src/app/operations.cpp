#include "app/operations.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <nlohmann/json.hpp>

namespace monochat::app {

namespace {

using json = nlohmann::json;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string joined(const std::vector<std::string>& keys) {
    std::string out;
    for (const auto& k : keys) {
        out += (out.empty() ? "" : ",") + k;
    }
    return out;
}

}  // namespace

config_reloader::config_reloader(std::optional<std::string> path, infra::live_config& live,
                                 infra::metrics_registry& metrics, apply_fn apply)
    : path_(std::move(path)),
      live_(live),
      apply_(std::move(apply)),
      ok_total_(metrics.get_counter("monochat_config_reloads_total",
                                    "Configuration reloads by result.", {{"result", "ok"}})),
      refused_total_(metrics.get_counter("monochat_config_reloads_total",
                                         "Configuration reloads by result.",
                                         {{"result", "refused"}})),
      last_ok_(metrics.get_gauge("monochat_config_last_reload_success",
                                 "1 when the last configuration reload was applied, 0 when it "
                                 "was refused.")) {
    last_ok_.set(1);
}

reload_outcome config_reloader::reload_file(std::string_view source) {
    std::lock_guard lock(mutex_);
    infra::log::info("app", "reloading configuration",
                     {{"source", source}, {"file", path_.value_or("(none)")}});
    auto loaded = infra::load_config(path_, infra::monochat_environment());
    if (!loaded) {
        return refuse(loaded.error().message, source);
    }
    return publish(*loaded, source);
}

reload_outcome config_reloader::patch(std::string_view json_text) {
    std::lock_guard lock(mutex_);
    auto next = infra::apply_live_patch(*live_.get(), json_text);
    if (!next) {
        return refuse(next.error().message, "admin-settings");
    }
    return publish(*next, "admin-settings");
}

reload_outcome config_reloader::publish(const infra::config& loaded, std::string_view source) {
    auto plan = infra::plan_reload(*live_.get(), loaded);
    for (const auto& key : plan.restart_required) {
        infra::log::warn("app", "config change needs restart; not applied",
                         {{"key", key}, {"source", source}});
    }
    if (apply_) {
        if (auto st = apply_(plan.next); !st) {
            return refuse(st.error().message, source);
        }
    }
    live_.set(plan.next);
    reload_outcome o;
    o.ok = true;
    o.applied = std::move(plan.applied);
    o.restart_required = std::move(plan.restart_required);
    ok_total_.inc();
    last_ok_.set(1);
    infra::log::info("app", "configuration reloaded",
                     {{"source", source},
                      {"applied", joined(o.applied)},
                      {"restart_required", joined(o.restart_required)}});
    remember(o, source);
    return o;
}

reload_outcome config_reloader::refuse(std::string error, std::string_view source) {
    reload_outcome o;
    o.error = std::move(error);
    refused_total_.inc();
    last_ok_.set(0);
    // The error names the key (`limits.send_rate: -1 is outside ...`).
    infra::log::error("app", "configuration reload refused; old settings stay",
                      {{"source", source}, {"error", o.error}});
    remember(o, source);
    return o;
}

void config_reloader::remember(const reload_outcome& o, std::string_view source) {
    reloads_.fetch_add(1, std::memory_order_relaxed);
    last_ = o;
    last_source_ = std::string(source);
    last_at_ms_ = wall_ms();
}

std::string config_reloader::stats_json() const {
    std::lock_guard lock(mutex_);
    json out = {{"reloads", reloads()}};
    if (reloads() == 0) {
        out["last"] = nullptr;
    } else {
        json last = {{"ok", last_.ok},
                     {"source", last_source_},
                     {"applied", last_.applied},
                     {"restart_required", last_.restart_required},
                     {"at_ms", last_at_ms_}};
        if (!last_.ok) {
            last["error"] = last_.error;
        }
        out["last"] = std::move(last);
    }
    return out.dump();
}

audit_log::audit_log(std::filesystem::path path) : path_(std::move(path)) {}

audit_log::~audit_log() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

status audit_log::open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        return make_error(errc::internal,
                          "cannot open audit log " + path_.string() + ": " + std::strerror(errno));
    }
    return {};
}

void audit_log::record(std::uint64_t actor, std::string_view action, std::string_view target,
                       std::string_view outcome, std::string_view detail,
                       std::string_view trace) {
    json line = {{"ts", wall_ms()},
                 {"actor", actor},
                 {"action", action},
                 {"target", target},
                 {"outcome", outcome},
                 {"trace", trace}};
    line["detail"] = detail.empty() ? json(nullptr) : json::parse(detail, nullptr, false);
    if (line["detail"].is_discarded()) {
        line["detail"] = std::string(detail);
    }
    std::string text = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    infra::log::info("audit", "admin action",
                     {{"actor", actor}, {"action", action}, {"target", target},
                      {"outcome", outcome}, {"trace", trace}});
    std::lock_guard lock(mutex_);
    if (fd_ < 0) {
        return;
    }
    // O_APPEND makes each write land at the end; a short write is retried for the rest.
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto n = ::write(fd_, rest.data(), rest.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            infra::log::error("audit", "cannot write the audit log",
                              {{"file", path_.string()}, {"error", std::strerror(errno)}});
            return;
        }
        rest.remove_prefix(static_cast<std::size_t>(n));
    }
    if (::fdatasync(fd_) != 0) {
        infra::log::error("audit", "cannot sync the audit log",
                          {{"file", path_.string()}, {"error", std::strerror(errno)}});
    }
}

}  // namespace monochat::app
