#include "support/ws_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace monochat::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct ws_client::impl : std::enable_shared_from_this<ws_client::impl> {
    net::io_context ioc;
    websocket::stream<beast::tcp_stream> ws{ioc};
    net::steady_timer unpause{ioc};
    std::thread thread;

    std::mutex mutex;
    std::condition_variable cv;
    std::deque<std::string> frames;
    bool closed = false;
    int close_code = 0;
    bool paused = false;

    net::awaitable<void> reader() {
        auto self = shared_from_this();
        beast::flat_buffer buffer;
        for (;;) {
            while (paused) {
                unpause.expires_at(std::chrono::steady_clock::time_point::max());
                co_await unpause.async_wait(net::as_tuple(net::use_awaitable));
            }
            buffer.clear();
            auto [ec, n] = co_await ws.async_read(buffer, net::as_tuple(net::use_awaitable));
            std::lock_guard lock(mutex);
            if (ec) {
                closed = true;
                close_code = ws.reason().code;
                cv.notify_all();
                co_return;
            }
            frames.push_back(beast::buffers_to_string(buffer.data()));
            cv.notify_all();
        }
    }

    template <class F>
    void run_on_io(F f) {
        std::promise<void> done;
        net::post(ioc, [&] {
            try {
                f();
                done.set_value();
            } catch (...) {
                done.set_exception(std::current_exception());
            }
        });
        done.get_future().get();
    }
};

ws_client::ws_client(const std::string& host, int port, const std::string& token)
    : ws_client(host, port, token, options{}) {}

ws_client::ws_client(const std::string& host, int port, const std::string& token, options opts)
    : impl_(std::make_shared<impl>()) {
    auto& ws = impl_->ws;
    auto& sock = beast::get_lowest_layer(ws);
    sock.socket().open(tcp::v4());
    if (opts.receive_buffer > 0) {
        sock.socket().set_option(net::socket_base::receive_buffer_size(opts.receive_buffer));
    }
    sock.expires_after(std::chrono::seconds(10));
    sock.socket().connect(tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    std::string target = "/api/v1/ws";
    if (opts.token_in_query) {
        target += "?token=" + token;
    } else {
        ws.set_option(websocket::stream_base::decorator([token](websocket::request_type& req) {
            req.set(http::field::authorization, "Bearer " + token);
        }));
    }
    websocket::response_type res;
    beast::error_code ec;
    ws.handshake(res, host + ":" + std::to_string(port), target, ec);
    if (ec) {
        throw std::runtime_error("websocket handshake refused with HTTP " +
                                 std::to_string(res.result_int()) + ": " + res.body());
    }
    ws.read_message_max(64 << 20);
    // The deadline covered connecting; basic_stream applies it to async operations too, so
    // left set it would end the reader 10 s after the connection opened.
    sock.expires_never();
    net::co_spawn(impl_->ioc, impl_->reader(), net::detached);
    impl_->thread = std::thread([i = impl_] { i->ioc.run(); });
    auto hello = recv(std::chrono::milliseconds(5000));
    if (!hello || (*hello)["type"] != "hello") {
        throw std::runtime_error("no hello frame after the handshake");
    }
    hello_ = *hello;
}

ws_client::~ws_client() {
    try {
        close();
    } catch (...) {
    }
    impl_->ioc.stop();
    if (impl_->thread.joinable()) {
        impl_->thread.join();
    }
}

int ws_client::handshake_status(const std::string& host, int port, const std::string& target,
                                const std::string& authorization) {
    net::io_context ioc;
    websocket::stream<tcp::socket> ws(ioc);
    ws.next_layer().connect(tcp::endpoint(net::ip::make_address(host), static_cast<unsigned short>(port)));
    if (!authorization.empty()) {
        ws.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& req) {
            req.set(http::field::authorization, authorization);
        }));
    }
    websocket::response_type res;
    beast::error_code ec;
    ws.handshake(res, host, target, ec);
    return static_cast<int>(res.result_int());
}

void ws_client::send(const nlohmann::json& frame) { send_text(frame.dump()); }

void ws_client::send_text(const std::string& text) {
    auto i = impl_;
    i->run_on_io([&] {
        i->ws.text(true);
        i->ws.write(net::buffer(text));
    });
}

void ws_client::send_binary(const std::string& bytes) {
    auto i = impl_;
    i->run_on_io([&] {
        i->ws.binary(true);
        i->ws.write(net::buffer(bytes));
    });
}

std::optional<nlohmann::json> ws_client::recv(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mutex);
    if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->frames.empty() || impl_->closed; }) ||
        impl_->frames.empty()) {
        return std::nullopt;
    }
    auto text = std::move(impl_->frames.front());
    impl_->frames.pop_front();
    return nlohmann::json::parse(text);
}

nlohmann::json ws_client::expect(const std::string& type, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(impl_->mutex);
    for (;;) {
        for (auto it = impl_->frames.begin(); it != impl_->frames.end(); ++it) {
            auto j = nlohmann::json::parse(*it);
            if (j.value("type", "") == type) {
                impl_->frames.erase(it);
                return j;
            }
        }
        if (impl_->closed) {
            throw std::runtime_error("connection closed (code " + std::to_string(impl_->close_code) +
                                     ") while waiting for a " + type + " frame");
        }
        if (impl_->cv.wait_until(lock, deadline) == std::cv_status::timeout) {
            throw std::runtime_error("no " + type + " frame in time");
        }
    }
}

std::size_t ws_client::pending(const std::string& type) {
    std::lock_guard lock(impl_->mutex);
    std::size_t n = 0;
    for (const auto& f : impl_->frames) {
        n += nlohmann::json::parse(f).value("type", "") == type ? 1 : 0;
    }
    return n;
}

void ws_client::drain() {
    std::lock_guard lock(impl_->mutex);
    impl_->frames.clear();
}

bool ws_client::wait_closed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(impl_->mutex);
    return impl_->cv.wait_for(lock, timeout, [&] { return impl_->closed; });
}

int ws_client::close_code() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->close_code;
}

void ws_client::pause_reading(bool paused) {
    auto i = impl_;
    net::post(i->ioc, [i, paused] {
        i->paused = paused;
        if (!paused) {
            i->unpause.cancel();
        }
    });
}

void ws_client::close() {
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->closed) {
            return;
        }
    }
    auto i = impl_;
    net::post(i->ioc, [i] {
        i->ws.async_close(websocket::close_code::normal, [i](beast::error_code) {});
    });
    wait_closed(std::chrono::milliseconds(3000));
}

}  // namespace monochat::test
