#include <monochat/logic/search.hpp>

#include <monochat/logic/message_format.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/search_index.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <nlohmann/json.hpp>

namespace monochat::logic {

namespace {

constexpr std::size_t max_limit = 200;

// The index may still hold a message whose recall it has not taken in yet.
bool recalled(const storage::stored_message& m) {
    if (m.state.empty()) {
        return false;
    }
    const auto state = nlohmann::json::parse(m.state, nullptr, false);
    return state.is_object() && state.value("recalled", false);
}

}  // namespace

boost::asio::awaitable<result<std::vector<std::string>>> search_service::search(
    const identity& who, search_request req) {
    if (req.limit == 0 || req.limit > max_limit) {
        co_return make_error(errc::invalid_argument, "limit must be 1 to 200");
    }
    auto query = storage::parse_search_query(req.q);
    if (!query) {
        co_return query.error();
    }
    storage::search_request request;
    request.limit = req.limit;
    if (req.conversation_id) {
        auto conv = parse_conversation_id(*req.conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (auto ok = co_await access_.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        request.scope.conversations.push_back(conv->id);
    } else {
        auto scope = co_await readable(who);
        if (!scope) {
            co_return scope.error();
        }
        request.scope.conversations = std::move(*scope);
    }
    if (query->terms.empty()) {
        co_return std::vector<std::string>{};  // only punctuation or emoji: nothing can match
    }
    request.query = std::move(*query);
    auto hits = co_await index_.search(std::move(request));
    if (!hits) {
        co_return hits.error();
    }
    std::vector<std::string> out;
    out.reserve(hits->size());
    for (auto& hit : *hits) {
        auto m = co_await log_.get(std::move(hit.conversation_id), hit.seq);
        if (!m) {
            if (m.error().code == errc::not_found) {
                continue;  // an index entry without a message would be a bug; skip, not fail
            }
            co_return m.error();
        }
        if (recalled(*m)) {
            continue;
        }
        const std::vector<storage::stored_message> one{*m};
        auto viewer = co_await view_reactions(log_, who.user_id, one);
        if (!viewer) {
            co_return viewer.error();
        }
        out.push_back(message_json(*m, &*viewer));
    }
    co_return out;
}

boost::asio::awaitable<result<std::vector<std::string>>> search_service::readable(
    const identity& who) {
    std::vector<std::string> out{std::string(world_conversation_id)};
    if (who.guest) {
        co_return out;
    }
    // Membership is read now, not remembered: leaving a group ends finding its messages.
    auto groups = co_await groups_.groups_of_user(who.user_id);
    if (!groups) {
        co_return groups.error();
    }
    for (const auto& g : *groups) {
        out.push_back("group:" + std::to_string(g.group.id));
    }
    auto direct = co_await read_state_.direct_conversations(who.user_id);
    if (!direct) {
        co_return direct.error();
    }
    for (auto& d : *direct) {
        out.push_back(std::move(d.conversation_id));
    }
    co_return out;
}

}  // namespace monochat::logic
