#include <monochat/logic/conversations.hpp>

#include <algorithm>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/logic/message_format.hpp>
#include <monochat/logic/presence.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/user_store.hpp>
#include <unordered_map>

#include "logic/events.hpp"
#include "logic/wire_json.hpp"

namespace monochat::logic {

namespace {

error guests_only_world() { return make_error(errc::forbidden, "guests may only use world"); }

class conversations_impl final : public conversations {
public:
    explicit conversations_impl(const dependencies& deps)
        : deps_(deps),
          access_(deps.users, deps.relations, deps.groups, deps.config),
          events_(deps.bus, deps.groups, deps.config, deps.metrics, deps.group_sink, deps.members) {}

    task<std::vector<conversation_info>> list(identity who) override {
        // The contract's guest rules: besides /auth/*, /me and users, only `world`.
        if (who.guest) {
            co_return guests_only_world();
        }
        auto me = co_await deps_.users.get_user(who.user_id);
        if (!me) {
            if (me.error().code == errc::not_found) {
                co_return make_error(errc::unauthenticated, "the user no longer exists");
            }
            co_return me.error();
        }
        auto positions = co_await deps_.read_state.read_positions(who.user_id);
        if (!positions) {
            co_return positions.error();
        }
        auto mentions = co_await deps_.read_state.unread_mentions(who.user_id);
        if (!mentions) {
            co_return mentions.error();
        }
        auto settings = co_await deps_.read_state.conversation_settings(who.user_id);
        if (!settings) {
            co_return settings.error();
        }
        std::vector<conversation_info> out;
        conversation_info world;
        world.conversation_id = std::string(world_conversation_id);
        world.kind = "world";
        world.title = "World";
        // One is in `world` from the moment one's account exists.
        world.activity_ms = me->created_ms;
        out.push_back(std::move(world));

        if (!who.guest) {
            auto groups = co_await deps_.groups.groups_of_user(who.user_id);
            if (!groups) {
                co_return groups.error();
            }
            for (const auto& g : *groups) {
                conversation_info c;
                c.conversation_id = group_conversation_id(g.group.id);
                c.kind = "group";
                c.title = g.group.name;
                c.group_id = g.group.id;
                c.activity_ms = g.joined_ms;
                out.push_back(std::move(c));
            }
            auto directs = co_await deps_.read_state.direct_conversations(who.user_id);
            if (!directs) {
                co_return directs.error();
            }
            std::vector<std::uint64_t> peer_ids;
            for (const auto& d : *directs) {
                peer_ids.push_back(d.peer_id);
            }
            auto peers = co_await deps_.users.get_users(peer_ids);
            if (!peers) {
                co_return peers.error();
            }
            std::unordered_map<std::uint64_t, std::string> names;
            for (const auto& p : *peers) {
                names.emplace(p.id, p.display_name);
            }
            for (const auto& d : *directs) {
                conversation_info c;
                c.conversation_id = d.conversation_id;
                c.kind = "direct";
                c.title = names.count(d.peer_id) != 0 ? names[d.peer_id] : std::string();
                c.peer_id = d.peer_id;
                c.activity_ms = d.last_message_ms;
                out.push_back(std::move(c));
            }
        }

        std::unordered_map<std::string, std::uint64_t> read;
        for (const auto& p : *positions) {
            read.emplace(p.conversation_id, p.read_seq);
        }
        std::unordered_map<std::string, std::uint64_t> mentioned;
        for (const auto& m : *mentions) {
            mentioned.emplace(m.conversation_id, m.count);
        }
        std::unordered_map<std::string, std::int64_t> muted;
        const std::int64_t now_ms = deps_.clock.now_ms();
        for (const auto& s : *settings) {
            // An expired mute reads as none: clients need not compare clocks.
            if (s.muted_until_ms > now_ms) {
                muted.emplace(s.conversation_id, s.muted_until_ms);
            }
        }
        for (auto& c : out) {
            if (const auto m = muted.find(c.conversation_id); m != muted.end()) {
                c.muted_until_ms = m->second;
            }
            c.last_seq = deps_.log.last_seq(c.conversation_id);
            const auto it = read.find(c.conversation_id);
            c.read_seq = std::min(it == read.end() ? 0 : it->second, c.last_seq);
            c.unread = c.last_seq - c.read_seq;
            if (const auto m = mentioned.find(c.conversation_id); m != mentioned.end()) {
                c.mentions_unread = std::min(m->second, c.unread);
            }
            if (c.last_seq == 0) {
                continue;
            }
            auto latest = co_await deps_.log.read_latest(c.conversation_id, 1);
            if (!latest) {
                // The list is still useful without one preview; the entry shows null.
                infra::log::warn("logic", "last message unreadable",
                                 {{"conversation_id", c.conversation_id},
                                  {"error", latest.error().message}});
                continue;
            }
            if (!latest->messages.empty()) {
                // A preview whose `me` cannot be looked up still shows, with me: false.
                auto viewer = co_await view_reactions(deps_.log, who.user_id, latest->messages);
                c.last_message = message_json(latest->messages.back(),
                                              viewer ? &*viewer : nullptr);
                c.activity_ms = latest->messages.back().ts_ms;
            }
        }
        std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            if (a.activity_ms != b.activity_ms) {
                return a.activity_ms > b.activity_ms;
            }
            return a.conversation_id < b.conversation_id;
        });
        co_return out;
    }

    task<std::string> direct_id(identity who, std::uint64_t user_id) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (user_id == who.user_id) {
            co_return make_error(errc::invalid_argument,
                                 "a direct conversation needs two different users");
        }
        auto peer = co_await deps_.users.get_user(user_id);
        if (!peer) {
            if (peer.error().code == errc::not_found) {
                co_return make_error(errc::not_found, "no such user");
            }
            co_return peer.error();
        }
        if (peer->guest) {
            co_return make_error(errc::forbidden, "guests may only use world");
        }
        co_return storage::direct_conversation_id(who.user_id, user_id);
    }

    task<bool> mark_read(identity who, conversation_ref conversation, std::uint64_t seq,
                         read_options options) override {
        if (!options.access_checked) {
            if (auto st = co_await access_.can_read(who, conversation); !st) {
                co_return st.error();
            }
        }
        // Clamped: a client may hold a seq from a push that raced the list; positions past the
        // end would make later messages look read.
        const std::uint64_t target = std::min(seq, deps_.log.last_seq(conversation.id));
        if (target == 0) {
            co_return false;
        }
        auto moved = co_await deps_.read_state.set_read_position(who.user_id, conversation.id, target,
                                                            deps_.clock.now_ms());
        if (!moved) {
            co_return moved.error();
        }
        if (!*moved || !options.push_receipt) {
            co_return *moved;
        }
        const std::string frame =
            wire::dump({{"type", "receipt"},
                        {"conversation_id", conversation.id},
                        {"user_id", std::to_string(who.user_id)},
                        {"seq", target}});
        co_await push_receipt(who, conversation, frame, options.exclude_session);
        co_return true;
    }

    task<std::int64_t> set_muted_until(identity who, conversation_ref conversation,
                                       std::int64_t muted_until_ms) override {
        if (who.guest) {
            co_return guests_only_world();
        }
        if (muted_until_ms < 0 || muted_until_ms > max_muted_until_ms) {
            co_return make_error(errc::invalid_argument,
                                 "muted_until must be 0 or a time in ms up to 2^53-1");
        }
        if (auto st = co_await access_.can_read(who, conversation); !st) {
            co_return st.error();
        }
        const std::int64_t stored = muted_until_ms > deps_.clock.now_ms() ? muted_until_ms : 0;
        if (auto st = co_await deps_.read_state.set_muted_until(who.user_id, conversation.id, stored);
            !st) {
            co_return st.error();
        }
        // The user's other devices follow at once; a device that misses it reads the list.
        events_.to_users(std::to_string(who.user_id), {who.user_id},
                         wire::dump({{"type", "event"},
                                     {"event", "conversation_updated"},
                                     {"conversation_id", conversation.id},
                                     {"muted_until", stored}}));
        co_return stored;
    }

    task<void> can_read(identity who, conversation_ref conversation) override {
        co_return co_await access_.can_read(who, conversation);
    }

    task<void> can_send(identity who, conversation_ref conversation) override {
        co_return co_await access_.can_send(who, conversation);
    }

private:
    boost::asio::awaitable<void> push_receipt(const identity& who, const conversation_ref& c,
                                              const std::string& frame,
                                              std::uint64_t exclude_session) {
        switch (c.kind) {
            case conversation_kind::direct:
                events_.to_users(c.id, {c.low, c.high}, frame, exclude_session);
                co_return;
            case conversation_kind::group: {
                const auto threshold = deps_.config.get()->fanout.large_group_threshold;
                auto count = co_await deps_.groups.member_count(c.group_id);
                if (count && *count <= static_cast<std::uint64_t>(threshold)) {
                    co_await events_.to_group(c.group_id, frame, std::nullopt, exclude_session);
                    co_return;
                }
                break;
            }
            case conversation_kind::world:
                break;
        }
        // World and large groups: only the reader's other devices hear of it.
        events_.to_users(c.id, {who.user_id}, frame, exclude_session);
    }

    const dependencies deps_;
    access_control access_;
    event_publisher events_;
};

}  // namespace

std::unique_ptr<conversations> make_conversations(const dependencies& deps) {
    return std::make_unique<conversations_impl>(deps);
}

}  // namespace monochat::logic
