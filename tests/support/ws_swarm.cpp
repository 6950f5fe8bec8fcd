#include "support/ws_swarm.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

namespace monochat::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

namespace {
constexpr auto token = net::as_tuple(net::use_awaitable);
}

struct ws_swarm::impl : std::enable_shared_from_this<ws_swarm::impl> {
    struct conn {
        explicit conn(net::io_context& ioc) : ws(ioc) {}
        websocket::stream<beast::tcp_stream> ws;
        std::deque<std::string> outbox;
        bool writing = false;
        bool ready = false;
        ws_swarm::stats st;
        std::map<std::string, std::uint64_t> last;            // last pushed seq
        std::map<std::string, std::set<std::uint64_t>> seen;  // pushed or acked seqs
    };

    std::string host;
    int port = 0;
    net::io_context ioc;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work{ioc.get_executor()};
    std::thread thread;
    mutable std::mutex mutex;
    std::condition_variable cv;
    std::vector<std::unique_ptr<conn>> conns;
    std::size_t ready = 0;
    std::string failure;

    net::awaitable<void> run(conn& c, std::string tok) {
        auto self = shared_from_this();
        auto& sock = beast::get_lowest_layer(c.ws);
        sock.expires_after(std::chrono::seconds(30));
        auto [cec] = co_await sock.async_connect(
            tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)), token);
        if (cec) {
            fail("connect: " + cec.message());
            co_return;
        }
        c.ws.set_option(websocket::stream_base::decorator([tok](websocket::request_type& req) {
            req.set(http::field::authorization, "Bearer " + tok);
        }));
        auto [hec] = co_await c.ws.async_handshake(host, "/api/v1/ws", token);
        if (hec) {
            fail("handshake: " + hec.message());
            co_return;
        }
        sock.expires_never();
        c.ws.read_message_max(64 << 20);
        beast::flat_buffer buffer;
        for (;;) {
            buffer.clear();
            auto [ec, n] = co_await c.ws.async_read(buffer, token);
            std::lock_guard lock(mutex);
            if (ec) {
                c.st.closed = true;
                c.st.close_code = c.ws.reason().code;
                cv.notify_all();
                co_return;
            }
            auto j = nlohmann::json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
            const auto type = j.is_object() ? j.value("type", "") : "";
            if (type == "hello") {
                c.ready = true;
                ++ready;
            } else if (type == "message") {
                const auto& m = j["message"];
                const auto cid = m["conversation_id"].get<std::string>();
                auto& last = c.last[cid];
                const auto seq = m["seq"].get<std::uint64_t>();
                if (seq <= last) {
                    ++c.st.out_of_order;
                }
                last = std::max(last, seq);
                if (!c.seen[cid].insert(seq).second) {
                    ++c.st.duplicates;
                }
                ++c.st.messages;
            } else if (type == "ack") {
                if (!c.seen[j["conversation_id"].get<std::string>()].insert(j["seq"].get<std::uint64_t>()).second) {
                    ++c.st.duplicates;
                }
                ++c.st.acks;
            } else if (type == "error") {
                ++c.st.errors;
            }
            cv.notify_all();
        }
    }

    void fail(std::string why) {
        std::lock_guard lock(mutex);
        if (failure.empty()) {
            failure = std::move(why);
        }
        cv.notify_all();
    }

    void write_next(conn& c) {
        if (c.writing || c.outbox.empty()) {
            return;
        }
        c.writing = true;
        c.ws.text(true);
        c.ws.async_write(net::buffer(c.outbox.front()),
                         [self = shared_from_this(), &c](beast::error_code ec, std::size_t) {
                             c.outbox.pop_front();
                             c.writing = false;
                             if (!ec) {
                                 self->write_next(c);
                             }
                         });
    }
};

ws_swarm::ws_swarm(std::string host, int port) : impl_(std::make_shared<impl>()) {
    impl_->host = std::move(host);
    impl_->port = port;
    impl_->thread = std::thread([i = impl_] { i->ioc.run(); });
}

ws_swarm::~ws_swarm() {
    impl_->work.reset();
    impl_->ioc.stop();
    impl_->thread.join();
    // Every coroutine and write handler holds the impl alive, and the io_context they are queued in
    // belongs to that impl: left suspended, they would keep it (and every connection) forever.
    // Close the sockets and run the context dry so each operation ends with operation_aborted and
    // drops its reference.
    for (auto& c : impl_->conns) {
        beast::error_code ignored;
        beast::get_lowest_layer(c->ws).socket().close(ignored);
    }
    impl_->ioc.restart();
    impl_->ioc.run();
}

void ws_swarm::connect(const std::vector<std::string>& tokens, std::chrono::milliseconds timeout) {
    std::promise<void> started;
    net::post(impl_->ioc, [&] {
        for (const auto& t : tokens) {
            impl_->conns.push_back(std::make_unique<impl::conn>(impl_->ioc));
            net::co_spawn(impl_->ioc, impl_->run(*impl_->conns.back(), t), net::detached);
        }
        started.set_value();
    });
    started.get_future().get();
    std::unique_lock lock(impl_->mutex);
    const bool ok = impl_->cv.wait_for(lock, timeout, [&] {
        return impl_->ready == impl_->conns.size() || !impl_->failure.empty();
    });
    if (!impl_->failure.empty()) {
        throw std::runtime_error("swarm: " + impl_->failure);
    }
    if (!ok) {
        throw std::runtime_error("swarm: only " + std::to_string(impl_->ready) + " of " +
                                 std::to_string(impl_->conns.size()) + " connections ready in time");
    }
}

std::size_t ws_swarm::size() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->conns.size();
}

void ws_swarm::send(std::size_t i, const nlohmann::json& frame) {
    net::post(impl_->ioc, [i = impl_, idx = i, text = frame.dump()]() mutable {
        auto& c = *i->conns[idx];
        c.outbox.push_back(std::move(text));
        i->write_next(c);
    });
}

ws_swarm::stats ws_swarm::stats_of(std::size_t i) const {
    std::lock_guard lock(impl_->mutex);
    auto st = impl_->conns[i]->st;
    for (const auto& [cid, seqs] : impl_->conns[i]->seen) {
        if (!seqs.empty()) {
            st.gaps += (*seqs.rbegin() - *seqs.begin() + 1) - seqs.size();
        }
    }
    return st;
}

std::uint64_t ws_swarm::total_messages() const {
    std::lock_guard lock(impl_->mutex);
    std::uint64_t n = 0;
    for (const auto& c : impl_->conns) {
        n += c->st.messages;
    }
    return n;
}

bool ws_swarm::wait_messages(std::uint64_t per_connection, std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mutex);
    return impl_->cv.wait_for(lock, timeout, [&] {
        for (const auto& c : impl_->conns) {
            if (c->st.messages < per_connection) {
                return false;
            }
        }
        return true;
    });
}

std::uint64_t ws_swarm::last_seq(std::size_t i, const std::string& conversation_id) const {
    std::lock_guard lock(impl_->mutex);
    const auto& last = impl_->conns[i]->last;
    auto it = last.find(conversation_id);
    return it == last.end() ? 0 : it->second;
}

}  // namespace monochat::test
