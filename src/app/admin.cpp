#include "app/admin.hpp"
#include "app/file_modes.hpp"

#include <fmt/format.h>

#include <monochat/gateway/connection_registry.hpp>
#include <monochat/infra/blocking.hpp>
#include <monochat/infra/json_depth.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/logic/accounts.hpp>
#include <monochat/logic/files.hpp>
#include <monochat/logic/messaging.hpp>
#include <monochat/logic/social.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/webhook_store.hpp>
#include <nlohmann/json.hpp>
#include <thread>

namespace monochat::app {

namespace {

namespace net = boost::asio;
using json = nlohmann::json;

constexpr std::uint16_t close_disconnected = 4003;
constexpr std::size_t trace_readers_listed = 100;

std::string ok_json(json extra = json::object()) {
    extra["ok"] = true;
    return extra.dump();
}

std::string timestamp_name() {
    const auto now = std::chrono::system_clock::now();
    const auto t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        now.time_since_epoch()).count() % 1000;
    return fmt::format("backup-{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

}  // namespace

admin_service::admin_service(admin_dependencies deps) : d_(std::move(deps)) {}

net::awaitable<result<std::uint64_t>> admin_service::authorize(std::string bearer_token) {
    auto who = co_await d_.accounts.authenticate(std::move(bearer_token));
    if (!who) {
        co_return who.error();
    }
    auto admin = co_await d_.accounts.is_admin(who->user_id);
    if (!admin) {
        co_return admin.error();
    }
    if (!*admin) {
        co_return make_error(errc::forbidden, "the admin API needs the admin role");
    }
    co_return who->user_id;
}

result<std::string> admin_service::audited(const gateway::admin_caller& who,
                                           std::string_view action, std::string_view target,
                                           result<std::string> r, std::string_view detail) {
    std::string outcome = "ok";
    if (!r) {
        outcome = std::string(to_string(r.error().code));
    }
    std::string detail_text(detail);
    if (!r) {
        detail_text = json{{"error", r.error().message}}.dump();
    }
    d_.audit.record(who.user_id, action, target, outcome, detail_text, who.trace_id);
    return r;
}

net::awaitable<result<std::string>> admin_service::stats(gateway::admin_caller who) {
    json out = json::parse(d_.server_stats ? d_.server_stats() : std::string("{}"), nullptr,
                           false);
    if (!out.is_object()) {
        out = json::object();
    }
    out["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - started_)
                          .count();
    out["websocket_connections"] = d_.registry.connections();
    out["online_users"] = d_.registry.online_users();
    out["conversations"] = d_.log.conversations().size();
    out["config"] = json::parse(d_.reloader.stats_json(), nullptr, false);
    out["trace_buffer"] = {{"messages", d_.traces.size()}, {"capacity", d_.traces.capacity()}};
    co_return audited(who, "stats", "", result<std::string>(out.dump()));
}

net::awaitable<result<std::string>> admin_service::list_users(gateway::admin_caller who,
                                                              std::uint64_t after,
                                                              std::size_t limit) {
    auto users = co_await d_.accounts.list_users(after, limit);
    if (!users) {
        co_return audited(who, "list_users", "", users.error());
    }
    json list = json::array();
    for (const auto& u : *users) {
        list.push_back({{"user_id", std::to_string(u.user.user_id)},
                        {"username", u.user.username},
                        {"display_name", u.user.display_name},
                        {"guest", u.user.guest},
                        {"bot", u.user.bot},
                        {"online", u.user.online},
                        {"suspended", u.suspended},
                        {"admin", u.admin},
                        {"created_ms", u.created_ms}});
    }
    json out = {{"users", list}};
    out["next"] = users->size() == limit && !users->empty()
                      ? json(std::to_string(users->back().user.user_id))
                      : json(nullptr);
    co_return audited(who, "list_users", "", result<std::string>(out.dump()));
}

net::awaitable<result<std::string>> admin_service::disconnect_user(gateway::admin_caller who,
                                                                   std::uint64_t user_id) {
    const bool online = d_.registry.is_online(user_id);
    d_.registry.close_user(user_id, close_disconnected, "disconnected by an admin");
    co_return audited(who, "disconnect_user", std::to_string(user_id),
                      result<std::string>(ok_json({{"was_online", online}})));
}

net::awaitable<result<std::string>> admin_service::suspend_user(gateway::admin_caller who,
                                                                std::uint64_t user_id,
                                                                bool suspended) {
    const auto action = suspended ? "suspend_user" : "unsuspend_user";
    if (suspended && user_id == who.user_id) {
        co_return audited(who, action, std::to_string(user_id),
                          make_error(errc::invalid_argument, "an admin cannot suspend themself"));
    }
    auto st = co_await d_.accounts.set_suspended(user_id, suspended);
    if (!st) {
        co_return audited(who, action, std::to_string(user_id), st.error());
    }
    if (suspended) {
        // Sessions on this node close at once; set_suspended also told every node by the bus.
        d_.registry.close_user(user_id, close_disconnected, "suspended");
    }
    co_return audited(who, action, std::to_string(user_id),
                      result<std::string>(ok_json({{"suspended", suspended}})));
}

namespace {

json invite_json(const logic::invite_info& i) {
    return {{"code", i.code},
            {"uses_left", i.uses_left},
            {"expires_at", i.expires_ms == 0 ? json(nullptr) : json(i.expires_ms)}};
}

}  // namespace

net::awaitable<result<std::string>> admin_service::create_user(
    gateway::admin_caller who, std::string username, std::string password,
    std::optional<std::string> display_name) {
    const std::string name = username;
    auto user = co_await d_.accounts.create_user(std::move(username), std::move(password),
                                                 std::move(display_name));
    if (!user) {
        co_return audited(who, "create_user", name, user.error());
    }
    co_return audited(who, "create_user", std::to_string(user->user_id),
                      result<std::string>(R"({"user":)" + logic::to_json(*user) + "}"));
}

net::awaitable<result<std::string>> admin_service::create_invite(
    gateway::admin_caller who, std::int64_t uses, std::optional<std::int64_t> expires_in_s) {
    auto made = co_await d_.accounts.create_invite(who.user_id, uses, expires_in_s);
    if (!made) {
        co_return audited(who, "create_invite", "", made.error());
    }
    co_return audited(who, "create_invite", made->code,
                      result<std::string>(json{{"invite", invite_json(*made)}}.dump()));
}

net::awaitable<result<std::string>> admin_service::list_invites(gateway::admin_caller /*who*/) {
    auto all = co_await d_.accounts.list_invites();
    if (!all) {
        co_return all.error();
    }
    json items = json::array();
    for (const auto& i : *all) {
        items.push_back(invite_json(i));
    }
    co_return json{{"invites", std::move(items)}}.dump();
}

net::awaitable<result<std::string>> admin_service::delete_invite(gateway::admin_caller who,
                                                                 std::string code) {
    const std::string target = code;
    auto st = co_await d_.accounts.delete_invite(std::move(code));
    if (!st) {
        co_return audited(who, "delete_invite", target, st.error());
    }
    co_return audited(who, "delete_invite", target, result<std::string>(ok_json()));
}

net::awaitable<result<std::string>> admin_service::password_reset(gateway::admin_caller who,
                                                                  std::uint64_t user_id) {
    auto reset = co_await d_.accounts.issue_password_reset(user_id);
    if (!reset) {
        co_return audited(who, "password_reset", std::to_string(user_id), reset.error());
    }
    // The token itself stays out of the audit log: it is a password for a day.
    co_return audited(who, "password_reset", std::to_string(user_id),
                      result<std::string>(json{{"reset_token", reset->reset_token},
                                               {"expires_at", reset->expires_ms}}
                                              .dump()));
}

net::awaitable<result<std::string>> admin_service::mute_in_world(gateway::admin_caller who,
                                                                 std::uint64_t user_id,
                                                                 std::int64_t duration_s) {
    auto st = co_await d_.social_service.mute_in_world(user_id, duration_s);
    if (!st) {
        co_return audited(who, "world_mute", std::to_string(user_id), st.error());
    }
    co_return audited(who, "world_mute", std::to_string(user_id), result<std::string>(ok_json()),
                      json{{"duration_s", duration_s}}.dump());
}

net::awaitable<result<std::string>> admin_service::unmute_in_world(gateway::admin_caller who,
                                                                   std::uint64_t user_id) {
    auto st = co_await d_.social_service.unmute_in_world(user_id);
    if (!st) {
        co_return audited(who, "world_unmute", std::to_string(user_id), st.error());
    }
    co_return audited(who, "world_unmute", std::to_string(user_id), result<std::string>(ok_json()));
}

net::awaitable<result<std::string>> admin_service::world_mutes(gateway::admin_caller who) {
    auto mutes = co_await d_.social_service.world_mutes();
    if (!mutes) {
        co_return audited(who, "world_mutes", "", mutes.error());
    }
    json list = json::array();
    for (const auto& [user_id, until] : *mutes) {
        list.push_back({{"user_id", std::to_string(user_id)},
                        {"until", until == 0 ? json(nullptr) : json(until)}});
    }
    co_return audited(who, "world_mutes", "", result<std::string>(json{{"mutes", list}}.dump()));
}

net::awaitable<result<std::string>> admin_service::delete_user(gateway::admin_caller who,
                                                               std::uint64_t user_id) {
    if (user_id == who.user_id) {
        co_return audited(who, "delete_user", std::to_string(user_id),
                          make_error(errc::invalid_argument, "an admin cannot delete themself"));
    }
    auto st = co_await d_.accounts.delete_user(user_id);
    if (!st) {
        co_return audited(who, "delete_user", std::to_string(user_id), st.error());
    }
    d_.registry.close_user(user_id, close_disconnected, "deleted");
    co_return audited(who, "delete_user", std::to_string(user_id), result<std::string>(ok_json()));
}

net::awaitable<result<std::string>> admin_service::delete_message(gateway::admin_caller who,
                                                                  std::string conversation_id,
                                                                  std::uint64_t seq) {
    const std::string target = conversation_id + "/" + std::to_string(seq);
    logic::send_request req;
    req.who.user_id = who.user_id;
    req.conversation_id = conversation_id;
    // One recall per target: a repeated call is an idempotent retry of the same operation
    // (the conversation is hashed so that the id stays within 64 bytes).
    req.client_msg_id = fmt::format("admin-recall-{:x}-{}",
                                    std::hash<std::string>{}(conversation_id), seq);
    req.body.type = "recall";
    req.body.target_seq = seq;
    req.trace_id = who.trace_id;
    req.as_admin = true;
    auto r = co_await d_.messaging.send(std::move(req));
    if (!r) {
        co_return audited(who, "delete_message", target, r.error());
    }
    json out = {{"ok", true},
                {"conversation_id", r->conversation_id},
                {"recall_seq", r->seq},
                {"message_id", std::to_string(r->message_id)}};
    co_return audited(who, "delete_message", target, result<std::string>(out.dump()));
}

net::awaitable<result<std::string>> admin_service::settings(gateway::admin_caller who) {
    json out = {{"live", json::parse(infra::live_to_json(*d_.live.get()))}};
    co_return audited(who, "read_settings", "", result<std::string>(out.dump()));
}

namespace {

result<std::string> outcome_json(const reload_outcome& o) {
    if (!o.ok) {
        return make_error(errc::invalid_argument, o.error);
    }
    return json{{"ok", true}, {"applied", o.applied}, {"restart_required", o.restart_required}}
        .dump();
}

}  // namespace

net::awaitable<result<std::string>> admin_service::change_settings(gateway::admin_caller who,
                                                                   std::string patch) {
    const auto o = d_.reloader.patch(patch);
    // The audit line keeps the patch as JSON, but never one the settings refused as too deep:
    // dumping it would recurse once per level.
    auto detail = infra::json_nesting_exceeds(patch) ? json(json::value_t::discarded)
                                                     : json::parse(patch, nullptr, false);
    co_return audited(who, "change_settings", "", outcome_json(o),
                      detail.is_discarded() ? std::string() : detail.dump());
}

net::awaitable<result<std::string>> admin_service::reload(gateway::admin_caller who) {
    const auto o = d_.reloader.reload_file("admin");
    co_return audited(who, "reload", "", outcome_json(o));
}

net::awaitable<result<std::string>> admin_service::backup(gateway::admin_caller who) {
    namespace fs = std::filesystem;
    const auto cfg = d_.live.get();
    const fs::path root = cfg->admin.backup_dir.empty()
                              ? fs::path(cfg->storage.data_dir) / "backups"
                              : fs::path(cfg->admin.backup_dir);
    const fs::path dir = root / timestamp_name();
    const auto started = std::chrono::steady_clock::now();
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
        co_return audited(who, "backup", dir.string(),
                          make_error(errc::unavailable, "cannot create " + dir.string() + ": " +
                                                            ec.message()));
    }
    // The RocksDB checkpoint is hard links plus a copy of the live WAL and manifest: it blocks
    // for a moment, so it runs off the network threads.
    auto& log = d_.log;
    const auto messages = (dir / "messages").string();
    // Named first: GCC 12 mishandles a lambda holding a string built inside co_await.
    auto checkpoint = [&log, messages]() noexcept -> status { return log.checkpoint(messages); };
    status cp = co_await infra::run_blocking(pool_.get_executor(), std::move(checkpoint));
    if (!cp) {
        co_return audited(who, "backup", dir.string(), cp.error());
    }
    auto social = co_await d_.admin_store.backup_to((dir / "monochat.db").string());
    if (!social) {
        co_return audited(who, "backup", dir.string(), social.error());
    }
    if (d_.webhooks != nullptr) {
        auto hooks = co_await d_.webhooks->backup_to((dir / "webhooks.db").string());
        if (!hooks) {
            co_return audited(who, "backup", dir.string(), hooks.error());
        }
    }
    // The VAPID key (Web Push): a small file, copied as it is (it never changes once made).
    const fs::path vapid = fs::path(cfg->storage.data_dir) / "vapid_private.pem";
    if (fs::exists(vapid, ec)) {
        fs::copy_file(vapid, dir / "vapid_private.pem", ec);
        if (ec) {
            co_return audited(who, "backup", dir.string(),
                              make_error(errc::unavailable, "cannot copy the VAPID key: " +
                                                                ec.message()));
        }
    }
    if (d_.files != nullptr) {
        // Named first: GCC 12 destroys a string temporary built inside co_await twice.
        auto files_dir = dir.string();
        if (auto files = co_await d_.files->backup_to(std::move(files_dir)); !files) {
            co_return audited(who, "backup", dir.string(), files.error());
        }
    }
    if (const auto mode_ec = restrict_tree(dir.string())) {
        co_return audited(who, "backup", dir.string(),
                          make_error(errc::internal, "cannot restrict permissions of " +
                                                         dir.string() + ": " + mode_ec.message()));
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    json out = {{"ok", true}, {"dir", dir.string()}, {"ms", ms}};
    co_return audited(who, "backup", dir.string(), result<std::string>(out.dump()));
}

net::awaitable<result<std::string>> admin_service::trace(gateway::admin_caller who,
                                                         std::uint64_t message_id) {
    const auto target = std::to_string(message_id);
    auto t = d_.traces.find(message_id);
    if (!t) {
        co_return audited(who, "trace", target,
                          make_error(errc::not_found,
                                     "message not in the trace buffer (too old, or tracing off)"));
    }
    json stages = json::array();
    std::uint64_t seq = 0;
    std::int64_t received_us = 0;
    for (const auto& e : t->events) {
        json s = {{"stage", infra::to_string(e.stage)}, {"at_us", e.at_us}};
        switch (e.stage) {
            case infra::trace_stage::received:
                received_us = e.at_us;
                s["sender_id"] = std::to_string(e.a);
                break;
            case infra::trace_stage::stored:
                seq = e.a;
                s["seq"] = e.a;
                break;
            case infra::trace_stage::fanout:
                s["recipients"] = e.a;
                s["via"] = e.b != 0 ? "task" : "direct";
                break;
            case infra::trace_stage::pushed:
                s["user_id"] = std::to_string(e.a);
                s["session_id"] = std::to_string(e.b);
                break;
        }
        if (received_us != 0) {
            s["after_us"] = e.at_us - received_us;
        }
        stages.push_back(std::move(s));
    }
    json out = {{"message_id", target},
                {"trace_id", t->trace_id},
                {"conversation_id", t->conversation_id},
                {"stages", stages},
                {"dropped_events", t->dropped_events}};
    // The stored state: the message's seq in the log and who has read it.
    if (seq != 0) {
        out["stored"] = {{"seq", seq},
                         {"last_seq", d_.log.last_seq(t->conversation_id)}};
        std::optional<std::uint64_t> group;
        constexpr std::string_view group_prefix = "group:";
        if (t->conversation_id.rfind(group_prefix, 0) == 0) {
            try {
                group = std::stoull(t->conversation_id.substr(group_prefix.size()));
            } catch (const std::exception&) {
                group.reset();
            }
        }
        auto readers = co_await d_.read_state.conversation_readers(t->conversation_id, seq,
                                                               trace_readers_listed, group);
        if (readers) {
            json ids = json::array();
            for (auto id : readers->user_ids) {
                ids.push_back(std::to_string(id));
            }
            out["read"] = {{"read_by", ids}, {"read_count", readers->count}};
        }
    }
    co_return audited(who, "trace", target, result<std::string>(out.dump()));
}

}  // namespace monochat::app
