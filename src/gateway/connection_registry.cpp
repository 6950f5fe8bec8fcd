#include <monochat/gateway/connection_registry.hpp>

#include <algorithm>
#include <monochat/infra/message_traces.hpp>

namespace monochat::gateway {

bool connection_registry::add(const std::shared_ptr<ws_connection>& c) {
    auto& shard = shard_of_user(c->user_id());
    std::lock_guard lock(shard.mutex);
    auto& list = shard.users[c->user_id()];
    list.push_back(c);
    connections_.fetch_add(1, std::memory_order_relaxed);
    if (list.size() == 1) {
        const std::pair<std::uint64_t, const conn_list*> entry{c->user_id(), &list};
        shard.online.insert(std::lower_bound(shard.online.begin(), shard.online.end(), entry,
                                             [](const auto& a, const auto& b) { return a.first < b.first; }),
                            entry);
        online_users_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    return false;
}

bool connection_registry::remove(const ws_connection& c) {
    unsubscribe_world(c);
    auto& shard = shard_of_user(c.user_id());
    std::lock_guard lock(shard.mutex);
    auto it = shard.users.find(c.user_id());
    if (it == shard.users.end()) {
        return false;
    }
    auto& list = it->second;
    const auto before = list.size();
    std::erase_if(list, [&](const auto& p) { return p.get() == &c; });
    if (list.size() == before) {
        return false;
    }
    connections_.fetch_sub(1, std::memory_order_relaxed);
    if (list.empty()) {
        shard.users.erase(it);
        if (auto o = std::lower_bound(shard.online.begin(), shard.online.end(), c.user_id(),
                                      [](const auto& a, std::uint64_t user) { return a.first < user; });
            o != shard.online.end() && o->first == c.user_id()) {
            shard.online.erase(o);
        }
        online_users_.fetch_sub(1, std::memory_order_relaxed);
        return true;
    }
    return false;
}

void connection_registry::subscribe_world(const std::shared_ptr<ws_connection>& c) {
    auto& shard = shard_of_session(c->session_id());
    std::lock_guard lock(shard.mutex);
    shard.sessions.emplace(c->session_id(), c);
}

void connection_registry::unsubscribe_world(const ws_connection& c) {
    auto& shard = shard_of_session(c.session_id());
    std::lock_guard lock(shard.mutex);
    shard.sessions.erase(c.session_id());
}

std::size_t connection_registry::push_to_user(std::uint64_t user_id,
                                              const std::shared_ptr<const std::string>& frame,
                                              std::uint64_t exclude_session,
                                              std::uint64_t traced_message) {
    auto& shard = shard_of_user(user_id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.users.find(user_id);
    if (it == shard.users.end()) {
        return 0;
    }
    // Checked once per user, not per session: an untraced message costs sampled()'s two relaxed
    // loads and a multiply here.
    auto* traces = traced_message != 0 && infra::traces().sampled(traced_message) ? &infra::traces() : nullptr;
    std::size_t n = 0;
    for (const auto& c : it->second) {
        if (c->session_id() != exclude_session && c->push(frame)) {
            ++n;
            if (traces != nullptr) {
                traces->add(traced_message, infra::trace_stage::pushed, user_id, c->session_id());
            }
        }
    }
    return n;
}

namespace {
// The first element of [first, last) not below `v`, searched from `first` in doubling steps:
// a walk that looks up ascending values costs a few steps per value near the last one found,
// not a binary search over the whole range.
std::span<const std::uint64_t>::iterator gallop_lower_bound(std::span<const std::uint64_t>::iterator first,
                                                            std::span<const std::uint64_t>::iterator last,
                                                            std::uint64_t v) {
    std::ptrdiff_t step = 1;
    while (last - first > step && first[step] < v) {
        first += step;
        step *= 2;
    }
    return std::lower_bound(first, last - first > step ? first + step : last, v);
}
}  // namespace

std::size_t connection_registry::push_to_members(std::span<const std::uint64_t> members,
                                                 const std::shared_ptr<const std::string>& frame,
                                                 std::uint64_t exclude_session,
                                                 std::uint64_t exclude_user,
                                                 std::uint64_t traced_message, std::size_t lane,
                                                 std::size_t lanes,
                                                 std::vector<std::shared_ptr<ws_connection>>* wake_later) {
    auto* traces = traced_message != 0 && infra::traces().sampled(traced_message) ? &infra::traces() : nullptr;
    // The trace's `pushed` events of this share, recorded at the end under one lock.
    thread_local std::vector<std::pair<std::uint64_t, std::uint64_t>> reached;
    reached.clear();
    std::size_t n = 0;
    const auto push_sessions = [&](std::uint64_t user, const conn_list& list) {
        for (const auto& c : list) {
            if (c->session_id() == exclude_session) {
                continue;
            }
            if (wake_later != nullptr ? c->push_held(frame, *wake_later) : c->push(frame)) {
                ++n;
                if (traces != nullptr) {
                    reached.emplace_back(user, c->session_id());
                }
            }
        }
    };
    lanes = std::max<std::size_t>(1, lanes);
    if (online_users_.load(std::memory_order_relaxed) < members.size()) {
        // Fewer online users than members (a large group, most of it offline): each shard's
        // ascending online users are merged into the ascending members, a few steps each.
        for (std::size_t s = lane; s < shard_count; s += lanes) {
            auto& shard = users_[s];
            std::lock_guard lock(shard.mutex);
            auto pos = members.begin();
            for (const auto& [user, sessions] : shard.online) {
                pos = gallop_lower_bound(pos, members.end(), user);
                if (pos == members.end()) {
                    break;
                }
                if (*pos == user && user != exclude_user) {
                    push_sessions(user, *sessions);
                }
            }
        }
    } else {
        for (const auto user : members) {
            const auto s = user % shard_count;
            if (s % lanes != lane || user == exclude_user) {
                continue;
            }
            auto& shard = users_[s];
            std::lock_guard lock(shard.mutex);
            if (auto it = shard.users.find(user); it != shard.users.end()) {
                push_sessions(user, it->second);
            }
        }
    }
    if (traces != nullptr && !reached.empty()) {
        traces->add_pushed(traced_message, reached);
    }
    return n;
}

std::size_t connection_registry::push_to_world(const std::shared_ptr<const std::string>& frame,
                                               std::uint64_t exclude_session,
                                               std::uint64_t exclude_user,
                                               std::uint64_t traced_message) {
    auto* traces = traced_message != 0 && infra::traces().sampled(traced_message) ? &infra::traces() : nullptr;
    std::size_t n = 0;
    for (auto& shard : world_) {
        std::lock_guard lock(shard.mutex);
        for (const auto& [id, c] : shard.sessions) {
            if (id != exclude_session && (exclude_user == 0 || c->user_id() != exclude_user) &&
                c->push(frame)) {
                ++n;
                if (traces != nullptr) {
                    traces->add(traced_message, infra::trace_stage::pushed, c->user_id(), id);
                }
            }
        }
    }
    return n;
}

void connection_registry::for_each(const std::function<void(ws_connection&)>& f) {
    for (auto& shard : users_) {
        std::vector<std::shared_ptr<ws_connection>> snapshot;
        {
            std::lock_guard lock(shard.mutex);
            for (const auto& [user, list] : shard.users) {
                snapshot.insert(snapshot.end(), list.begin(), list.end());
            }
        }
        for (auto& c : snapshot) {
            f(*c);
        }
    }
}

void connection_registry::close_token(const std::string& token_hash, std::uint16_t code,
                                      const std::string& reason) {
    // Logout is rare; a scan of every session keeps the hot maps free of a third index.
    for_each([&](ws_connection& c) {
        if (c.token_hash() == token_hash) {
            c.close(code, reason);
        }
    });
}

void connection_registry::close_user(std::uint64_t user_id, std::uint16_t code,
                                     const std::string& reason) {
    std::vector<std::shared_ptr<ws_connection>> list;
    {
        auto& shard = shard_of_user(user_id);
        std::lock_guard lock(shard.mutex);
        if (auto it = shard.users.find(user_id); it != shard.users.end()) {
            list = it->second;
        }
    }
    for (auto& c : list) {
        c->close(code, reason);
    }
}

void connection_registry::close_all(std::uint16_t code, const std::string& reason) {
    for_each([&](ws_connection& c) { c.close(code, reason); });
}

std::size_t connection_registry::world_subscribers() const {
    std::size_t n = 0;
    for (const auto& shard : world_) {
        std::lock_guard lock(shard.mutex);
        n += shard.sessions.size();
    }
    return n;
}

bool connection_registry::is_online(std::uint64_t user_id) const {
    const auto& shard = shard_of_user(user_id);
    std::lock_guard lock(shard.mutex);
    return shard.users.count(user_id) != 0;
}

}  // namespace monochat::gateway
