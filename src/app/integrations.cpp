#include "app/integrations.hpp"

#include <monochat/logic/accounts.hpp>
#include <monochat/logic/webhooks.hpp>
#include <nlohmann/json.hpp>

namespace monochat::app {

namespace {

namespace net = boost::asio;
using json = nlohmann::json;

// `{"user", "token"}`: the token is shown here once; the server keeps only its hash.
std::string user_and_token(const logic::auth_result& a) {
    return R"({"user":)" + logic::to_json(a.user) + R"(,"token":)" + json(a.token).dump() + "}";
}

json webhook_json(const logic::webhook_info& w) {
    auto time_or_null = [](std::int64_t ms) { return ms == 0 ? json(nullptr) : json(ms); };
    json out = {{"webhook_id", std::to_string(w.webhook_id)},
                {"url", w.url},
                {"events", w.events},
                {"conversation_ids",
                 w.conversation_ids ? json(*w.conversation_ids) : json(nullptr)},
                {"created_at", w.created_ms},
                {"delivered", w.delivered},
                {"failed", w.failed},
                {"dropped", w.dropped},
                {"backlog", w.backlog},
                {"retrying", w.retrying},
                {"last_delivery_at", time_or_null(w.last_delivery_ms)},
                {"last_error_at", time_or_null(w.last_error_ms)},
                {"last_error", w.last_error.empty() ? json(nullptr) : json(w.last_error)}};
    return out;
}

}  // namespace

result<std::string> integrations_service::audited(const gateway::admin_caller& who,
                                                  std::string_view action,
                                                  std::string_view target,
                                                  result<std::string> r) {
    std::string outcome = "ok";
    std::string detail;
    if (!r) {
        outcome = std::string(to_string(r.error().code));
        detail = json{{"error", r.error().message}}.dump();
    }
    d_.audit.record(who.user_id, action, target, outcome, detail, who.trace_id);
    return r;
}

net::awaitable<result<std::string>> integrations_service::create_bot(
    gateway::admin_caller who, std::string username, std::optional<std::string> display_name) {
    const std::string name = username;
    auto bot = co_await d_.accounts.create_bot(std::move(username), std::move(display_name));
    if (!bot) {
        co_return audited(who, "create_bot", name, bot.error());
    }
    // The token stays out of the audit log.
    co_return audited(who, "create_bot", std::to_string(bot->user.user_id),
                      result<std::string>(user_and_token(*bot)));
}

net::awaitable<result<std::string>> integrations_service::rotate_bot_token(
    gateway::admin_caller who, std::uint64_t user_id) {
    auto bot = co_await d_.accounts.rotate_bot_token(user_id);
    if (!bot) {
        co_return audited(who, "rotate_bot_token", std::to_string(user_id), bot.error());
    }
    co_return audited(who, "rotate_bot_token", std::to_string(user_id),
                      result<std::string>(user_and_token(*bot)));
}

net::awaitable<result<std::string>> integrations_service::revoke_bot_tokens(
    gateway::admin_caller who, std::uint64_t user_id) {
    auto st = co_await d_.accounts.revoke_bot_tokens(user_id);
    if (!st) {
        co_return audited(who, "revoke_bot_tokens", std::to_string(user_id), st.error());
    }
    co_return audited(who, "revoke_bot_tokens", std::to_string(user_id),
                      result<std::string>(std::string("{}")));
}

net::awaitable<result<std::string>> integrations_service::create_webhook(
    gateway::admin_caller who, gateway::webhook_spec spec) {
    const std::string url = spec.url;
    logic::new_webhook w{std::move(spec.url), std::move(spec.events),
                         std::move(spec.conversation_ids)};
    auto made = co_await d_.webhooks.create(std::move(w));
    if (!made) {
        co_return audited(who, "create_webhook", url, made.error());
    }
    // The secret is answered once and stays out of the audit log.
    json out = {{"webhook", webhook_json(made->webhook)}, {"secret", made->secret}};
    co_return audited(who, "create_webhook", std::to_string(made->webhook.webhook_id),
                      result<std::string>(out.dump()));
}

net::awaitable<result<std::string>> integrations_service::list_webhooks(
    gateway::admin_caller /*who*/) {
    auto all = co_await d_.webhooks.list();
    if (!all) {
        co_return all.error();
    }
    json items = json::array();
    for (const auto& w : *all) {
        items.push_back(webhook_json(w));
    }
    co_return json{{"webhooks", std::move(items)}}.dump();
}

net::awaitable<result<std::string>> integrations_service::get_webhook(
    gateway::admin_caller /*who*/, std::uint64_t webhook_id) {
    auto w = co_await d_.webhooks.get(webhook_id);
    if (!w) {
        co_return w.error();
    }
    co_return json{{"webhook", webhook_json(*w)}}.dump();
}

net::awaitable<result<std::string>> integrations_service::delete_webhook(
    gateway::admin_caller who, std::uint64_t webhook_id) {
    auto st = co_await d_.webhooks.remove(webhook_id);
    if (!st) {
        co_return audited(who, "delete_webhook", std::to_string(webhook_id), st.error());
    }
    co_return audited(who, "delete_webhook", std::to_string(webhook_id),
                      result<std::string>(std::string("{}")));
}

}  // namespace monochat::app
