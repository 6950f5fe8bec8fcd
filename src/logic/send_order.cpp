#include "logic/send_order.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>

namespace monochat::logic {

namespace net = boost::asio;

send_order::turn::turn(turn&& other) noexcept
    : owner_(other.owner_), key_(std::move(other.key_)), ticket_(other.ticket_) {
    other.owner_ = nullptr;
}

send_order::turn send_order::take(std::uint64_t session_id, std::string_view conversation_id) {
    if (session_id == 0) {
        return {};
    }
    std::string key = std::to_string(session_id);
    key += ' ';
    key += conversation_id;
    std::lock_guard lock(mutex_);
    auto& l = lanes_[key];
    const std::uint64_t ticket = l.next++;
    return turn(this, std::move(key), ticket);
}

net::awaitable<void> send_order::turn::wait() {
    if (owner_ == nullptr) {
        co_return;
    }
    net::steady_timer timer(co_await net::this_coro::executor);
    {
        std::lock_guard lock(owner_->mutex_);
        auto& l = owner_->lanes_[key_];
        if (l.serving == ticket_) {
            co_return;
        }
        timer.expires_at(std::chrono::steady_clock::time_point::max());
        l.waiters.emplace_back(ticket_, &timer);
    }
    // The registration goes with this frame, however the wait ends (a frame destroyed at
    // shutdown included), so that a release never touches a timer that is gone.
    struct registration {
        send_order* owner;
        const std::string& key;
        std::uint64_t ticket;
        ~registration() { owner->forget_waiter(key, ticket); }
    } reg{owner_, key_, ticket_};
    for (;;) {
        (void)co_await timer.async_wait(net::as_tuple(net::use_awaitable));
        std::lock_guard lock(owner_->mutex_);
        if (owner_->lanes_[key_].serving == ticket_) {
            co_return;
        }
        timer.expires_at(std::chrono::steady_clock::time_point::max());
    }
}

void send_order::turn::release() noexcept {
    if (owner_ == nullptr) {
        return;
    }
    auto* owner = std::exchange(owner_, nullptr);
    owner->advance(key_);
}

void send_order::advance(const std::string& key) noexcept {
    std::lock_guard lock(mutex_);
    const auto it = lanes_.find(key);
    if (it == lanes_.end()) {
        return;
    }
    auto& l = it->second;
    ++l.serving;
    if (l.serving == l.next && l.waiters.empty()) {
        lanes_.erase(it);
        return;
    }
    for (auto& [ticket, timer] : l.waiters) {
        if (ticket == l.serving) {
            // An expiry in the past completes a wait already pending and one not yet started.
            timer->expires_at(std::chrono::steady_clock::time_point::min());
            break;
        }
    }
}

void send_order::forget_waiter(const std::string& key, std::uint64_t ticket) noexcept {
    std::lock_guard lock(mutex_);
    const auto it = lanes_.find(key);
    if (it == lanes_.end()) {
        return;
    }
    auto& w = it->second.waiters;
    std::erase_if(w, [ticket](const auto& e) { return e.first == ticket; });
}

std::size_t send_order::lanes() const {
    std::lock_guard lock(mutex_);
    return lanes_.size();
}

}  // namespace monochat::logic
