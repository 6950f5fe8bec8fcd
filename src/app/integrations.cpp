#include "app/integrations.hpp"

#include <monochat/logic/accounts.hpp>
#include <nlohmann/json.hpp>

namespace monochat::app {

namespace {

namespace net = boost::asio;
using json = nlohmann::json;

// `{"user", "token"}`: the token is shown here once; the server keeps only its hash.
std::string user_and_token(const logic::auth_result& a) {
    return R"({"user":)" + logic::to_json(a.user) + R"(,"token":)" + json(a.token).dump() + "}";
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

}  // namespace monochat::app
