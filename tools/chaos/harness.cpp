#include "chaos/harness.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <deque>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

namespace monochat::chaos {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = net::as_tuple(net::use_awaitable);
constexpr std::uint64_t sync_limit = 200;

struct outstanding_send {
    std::string conversation_id;
    std::string text;
    bool on_wire = false;  // sent on the current connection, answer pending
    int attempts = 0;
    bool lost_in_crash = false;  // was on the wire when a connection died
    clock_type::time_point sent_at{};
    clock_type::time_point retry_at{};
};

}  // namespace

struct harness::state {
    struct client {
        std::size_t index = 0;
        client_account account;
        std::uint64_t next_message = 0;
        std::map<std::string, outstanding_send> outstanding;  // by client_msg_id
        std::map<std::string, std::map<std::uint64_t, std::string>> local;
        std::deque<std::pair<std::string, std::uint64_t>> sync_queue;  // (conversation, after)
        std::size_t syncs_pending = 0;  // sync requests whose last page has not arrived
        bool connected = false;
        bool dead = true;  // current connection gone (or none yet)
        std::uint64_t connection = 0;
        std::shared_ptr<net::steady_timer> wake;
        std::shared_ptr<websocket::stream<beast::tcp_stream>> ws;
    };

    net::io_context ioc;
    // Keeps run() going after the clients ended, so that calls from the controller still run.
    net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(ioc);
    load_options opts;
    std::mt19937_64 rng;
    std::vector<client> clients;
    int port = 0;
    bool open = false;
    bool load = false;
    bool stopping = false;
    double send_credit = 0;
    clock_type::time_point last_credit = clock_type::now();
    message_map acked;
    std::map<std::string, std::pair<std::string, std::uint64_t>> ack_by_key;  // sender/cmid
    counters totals;
    std::vector<std::string> violations;
    std::size_t running = 0;

    void violation(std::string what) {
        std::fprintf(stderr, "client-side violation: %s\n", what.c_str());
        if (violations.size() < 1000) {
            violations.push_back(std::move(what));
        }
    }

    // Adds a message to a client's local copy; a different message at a known seq is a
    // violation (the server handed out one seq twice).
    void remember(client& c, const std::string& conversation, std::uint64_t seq,
                  const std::string& message_id, const char* how) {
        auto& log = c.local[conversation];
        auto [it, inserted] = log.emplace(seq, message_id);
        if (!inserted && it->second != message_id) {
            violation("client " + std::to_string(c.index) + " got " + how + " " + conversation +
                      " seq " + std::to_string(seq) + " as message " + message_id +
                      " but already held message " + it->second + " there");
        }
    }

    static std::uint64_t contiguous_end(const std::map<std::uint64_t, std::string>& log) {
        std::uint64_t end = 0;
        for (const auto& [seq, id] : log) {
            if (seq != end + 1) {
                break;
            }
            end = seq;
        }
        return end;
    }

    void queue_resync(client& c) {
        for (const auto& conv : c.account.conversations) {
            c.sync_queue.emplace_back(conv, contiguous_end(c.local[conv]));
            ++c.syncs_pending;
        }
    }

    void on_ack(client& c, const nlohmann::json& j) {
        const std::string cmid = j.value("client_msg_id", j.value("id", ""));
        auto it = c.outstanding.find(cmid);
        if (it == c.outstanding.end()) {
            violation("client " + std::to_string(c.index) + ": ack for unknown client_msg_id " +
                      cmid);
            return;
        }
        const std::string conversation = j.value("conversation_id", "");
        const std::uint64_t seq = j.value("seq", std::uint64_t{0});
        const std::string message_id = j.value("message_id", "");
        if (conversation != it->second.conversation_id || seq == 0 || message_id.empty()) {
            violation("bad ack for " + cmid + ": " + j.dump());
        }
        const std::string key = c.account.user_id + "/" + cmid;
        if (auto prev = ack_by_key.find(key); prev != ack_by_key.end()) {
            if (prev->second != std::make_pair(conversation, seq)) {
                violation("ack for " + key + " changed from " + prev->second.first + "#" +
                          std::to_string(prev->second.second) + " to " + conversation + "#" +
                          std::to_string(seq));
            }
        } else {
            ack_by_key.emplace(key, std::make_pair(conversation, seq));
            auto [slot, inserted] = acked[conversation].emplace(
                seq, acked_message{message_id, c.account.user_id, cmid});
            if (!inserted) {
                violation(conversation + " seq " + std::to_string(seq) +
                          " acknowledged for two messages: " + slot->second.sender_id + "/" +
                          slot->second.client_msg_id + " and " + key);
            }
            ++totals.acked;
            if (it->second.lost_in_crash) {
                ++totals.resent_acked;
            }
        }
        remember(c, conversation, seq, message_id, "ack of");
        c.outstanding.erase(it);
    }

    void on_error(client& c, const nlohmann::json& j) {
        const std::string id = j.value("id", "");
        const std::string code = j.value("code", "");
        auto it = c.outstanding.find(id);
        if (it == c.outstanding.end()) {
            violation("client " + std::to_string(c.index) + ": error frame " + j.dump());
            return;
        }
        if (code == "unavailable") {
            ++totals.unavailable;
        } else if (code == "rate_limited") {
            ++totals.other_errors;
        } else {
            violation("send " + id + " refused: " + j.dump());
            c.outstanding.erase(it);
            return;
        }
        it->second.on_wire = false;
        it->second.retry_at = clock_type::now() + std::chrono::milliseconds(100);
    }

    void on_frame(client& c, const std::string& text) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(text);
        } catch (const std::exception&) {
            violation("unparseable frame: " + text.substr(0, 200));
            return;
        }
        const std::string type = j.value("type", "");
        if (type == "ack") {
            on_ack(c, j);
        } else if (type == "error") {
            on_error(c, j);
        } else if (type == "message") {
            const auto& m = j["message"];
            ++totals.pushes;
            remember(c, m.value("conversation_id", ""), m.value("seq", std::uint64_t{0}),
                     m.value("message_id", ""), "a push of");
        } else if (type == "sync_result") {
            const std::string conversation = j.value("conversation_id", "");
            std::uint64_t last = 0;
            for (const auto& m : j["messages"]) {
                ++totals.synced;
                last = m.value("seq", std::uint64_t{0});
                remember(c, conversation, last, m.value("message_id", ""), "a sync page of");
            }
            if (j.value("has_more", false) && last > 0) {
                c.sync_queue.emplace_back(conversation, last);
            } else if (c.syncs_pending > 0) {
                --c.syncs_pending;
            }
        }
    }

    std::string frame_for_send(const std::string& cmid, const outstanding_send& s) {
        nlohmann::json f = {{"type", "send"},
                            {"id", cmid},
                            {"conversation_id", s.conversation_id},
                            {"client_msg_id", cmid},
                            {"body", {{"type", "text"}, {"text", s.text}}}};
        return f.dump();
    }

    bool take_send_credit() {
        if (opts.rate <= 0) {
            return true;
        }
        const auto now = clock_type::now();
        send_credit = std::min(
            send_credit + opts.rate * std::chrono::duration<double>(now - last_credit).count(),
            opts.rate / 10 + 1);
        last_credit = now;
        if (send_credit >= 1) {
            send_credit -= 1;
            return true;
        }
        return false;
    }

    net::awaitable<void> reader(client& c, std::shared_ptr<websocket::stream<beast::tcp_stream>> ws,
                                std::uint64_t connection) {
        beast::flat_buffer buffer;
        for (;;) {
            buffer.clear();
            auto [ec, n] = co_await ws->async_read(buffer, use_tuple);
            if (c.connection != connection) {
                co_return;
            }
            if (ec) {
                c.dead = true;
                c.wake->cancel();
                co_return;
            }
            on_frame(c, beast::buffers_to_string(buffer.data()));
            c.wake->cancel();
        }
    }

    net::awaitable<bool> write(client& c, const std::string& text) {
        auto ws = c.ws;
        auto [ec, n] = co_await ws->async_write(net::buffer(text), use_tuple);
        if (ec) {
            c.dead = true;
            co_return false;
        }
        co_return true;
    }

    net::awaitable<void> sleep(std::chrono::milliseconds d) {
        net::steady_timer t(ioc);
        t.expires_after(d);
        co_await t.async_wait(use_tuple);
    }

    // One connection's life: resend, resync, then send and read until it dies.
    net::awaitable<void> drive(client& c) {
        while (!c.dead && !stopping) {
            while (!c.dead && !c.sync_queue.empty()) {
                auto [conv, after] = c.sync_queue.front();
                c.sync_queue.pop_front();
                nlohmann::json f = {{"type", "sync"},
                                    {"id", "sync:" + conv},
                                    {"conversation_id", conv},
                                    {"after_seq", after},
                                    {"limit", sync_limit}};
                const std::string text = f.dump();
                if (!co_await write(c, text)) {
                    break;
                }
            }
            // Decide first, write after: the reader changes `outstanding` while a write waits.
            const auto now = clock_type::now();
            std::size_t on_wire = 0;
            std::vector<std::string> frames;
            for (auto& [cmid, s] : c.outstanding) {
                if (s.on_wire) {
                    ++on_wire;
                    if (now - s.sent_at > opts.ack_timeout) {
                        violation("no answer to send " + cmid + " within " +
                                  std::to_string(opts.ack_timeout.count()) + " ms (server hung?)");
                        s.sent_at = now;  // report once per timeout period
                    }
                }
            }
            for (auto& [cmid, s] : c.outstanding) {
                if (s.on_wire || s.retry_at > now || on_wire >= opts.window) {
                    continue;
                }
                if (s.attempts > 0) {
                    ++totals.resent;
                }
                ++s.attempts;
                s.on_wire = true;
                s.sent_at = now;
                ++on_wire;
                frames.push_back(frame_for_send(cmid, s));
            }
            while (load && on_wire < opts.window && take_send_credit()) {
                const std::string cmid =
                    "c" + std::to_string(c.index) + "-" + std::to_string(++c.next_message);
                const auto& convs = c.account.conversations;
                outstanding_send s;
                s.conversation_id = convs[rng() % convs.size()];
                s.text = "chaos " + cmid;
                s.on_wire = true;
                s.attempts = 1;
                s.sent_at = now;
                ++totals.sent;
                ++on_wire;
                frames.push_back(frame_for_send(cmid, s));
                c.outstanding.emplace(cmid, std::move(s));
            }
            for (const auto& text : frames) {
                if (c.dead || !co_await write(c, text)) {
                    break;
                }
            }
            if (c.dead) {
                break;
            }
            c.wake->expires_after(std::chrono::milliseconds(20));
            co_await c.wake->async_wait(use_tuple);
        }
    }

    net::awaitable<void> run_client(client& c) {
        c.wake = std::make_shared<net::steady_timer>(ioc);
        while (!stopping) {
            if (!open) {
                co_await sleep(std::chrono::milliseconds(10));
                continue;
            }
            const int target_port = port;
            auto ws = std::make_shared<websocket::stream<beast::tcp_stream>>(ioc);
            auto& lowest = beast::get_lowest_layer(*ws);
            lowest.expires_after(std::chrono::seconds(5));
            const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"),
                                         static_cast<unsigned short>(target_port));
            auto [cec] = co_await lowest.async_connect(endpoint, use_tuple);
            bool ok = !cec;
            if (ok) {
                const std::string token = c.account.token;
                ws->set_option(
                    websocket::stream_base::decorator([token](websocket::request_type& req) {
                        req.set(beast::http::field::authorization, "Bearer " + token);
                    }));
                const std::string host = "127.0.0.1:" + std::to_string(target_port);
                auto [hec] = co_await ws->async_handshake(host, "/api/v1/ws", use_tuple);
                ok = !hec;
            }
            if (ok) {
                beast::flat_buffer hello;
                auto [rec, n] = co_await ws->async_read(hello, use_tuple);
                ok = !rec &&
                     beast::buffers_to_string(hello.data()).find("\"hello\"") != std::string::npos;
            }
            if (!ok) {
                ++totals.connect_failures;
                co_await sleep(std::chrono::milliseconds(20));
                continue;
            }
            lowest.expires_never();
            // Keep-alive pings: a server that stops answering is noticed (and reported as a
            // connection loss) even when this client has nothing to send.
            websocket::stream_base::timeout t{};
            t.handshake_timeout = std::chrono::seconds(5);
            t.idle_timeout = std::chrono::seconds(10);
            t.keep_alive_pings = true;
            ws->set_option(t);
            ws->read_message_max(64 << 20);
            ++totals.connects;
            c.ws = ws;
            c.dead = false;
            c.connected = true;
            const std::uint64_t connection = ++c.connection;
            for (auto& [cmid, s] : c.outstanding) {
                s.on_wire = false;
                s.retry_at = {};
            }
            c.sync_queue.clear();
            c.syncs_pending = 0;
            queue_resync(c);
            net::co_spawn(ioc, reader(c, ws, connection), [this, &c](std::exception_ptr e) {
                if (!e) {
                    return;
                }
                c.dead = true;
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    violation("client " + std::to_string(c.index) + " reader failed: " + x.what());
                } catch (...) {
                    violation("client " + std::to_string(c.index) + " reader failed");
                }
            });
            co_await drive(c);
            c.connected = false;
            c.dead = true;
            ++c.connection;  // the reader of this connection ignores whatever still arrives
            beast::error_code ignored;
            lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
            lowest.close();
            for (auto& [cmid, s] : c.outstanding) {
                if (s.on_wire) {
                    s.lost_in_crash = true;
                    ++totals.resent_after_crash;
                }
                s.on_wire = false;
            }
            c.ws.reset();
        }
        --running;
    }

    template <class F>
    auto call(F f) {
        using R = decltype(f());
        std::promise<R> p;
        auto fut = p.get_future();
        net::post(ioc, [&] {
            if constexpr (std::is_void_v<R>) {
                f();
                p.set_value();
            } else {
                p.set_value(f());
            }
        });
        if (fut.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
            throw std::runtime_error("the client io thread does not answer");
        }
        return fut.get();
    }
};

harness::harness(std::vector<client_account> clients, load_options opts, std::uint64_t seed)
    : accounts_(clients), state_(std::make_shared<state>()) {
    state_->opts = opts;
    state_->rng.seed(seed);
    state_->clients.resize(clients.size());
    for (std::size_t i = 0; i < clients.size(); ++i) {
        state_->clients[i].index = i;
        state_->clients[i].account = clients[i];
    }
    state_->running = clients.size();
    for (auto& c : state_->clients) {
        // An exception ends the client; it is reported, never swallowed.
        net::co_spawn(state_->ioc, state_->run_client(c),
                      [s = state_.get(), i = c.index](std::exception_ptr e) {
                          if (!e) {
                              return;
                          }
                          --s->running;
                          try {
                              std::rethrow_exception(e);
                          } catch (const std::exception& x) {
                              s->violation("client " + std::to_string(i) + " failed: " + x.what());
                          } catch (...) {
                              s->violation("client " + std::to_string(i) + " failed");
                          }
                      });
    }
    thread_ = std::thread([s = state_] { s->ioc.run(); });
}

harness::~harness() { stop(); }

void harness::stop() {
    if (!thread_.joinable()) {
        return;
    }
    state_->call([s = state_.get()] {
        s->stopping = true;
        for (auto& c : s->clients) {
            c.dead = true;
            if (c.ws) {
                beast::error_code ignored;
                beast::get_lowest_layer(*c.ws).socket().close(ignored);
            }
            if (c.wake) {
                c.wake->cancel();
            }
        }
    });
    for (int i = 0; i < 500 && state_->call([s = state_.get()] { return s->running; }) > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Let the last handlers (readers of closed sockets, timers) finish, so that no coroutine
    // frame is left behind; stop outright only if that takes long.
    state_->call([s = state_.get()] { s->work.reset(); });
    for (int i = 0; i < 500 && !state_->ioc.stopped(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    state_->ioc.stop();
    thread_.join();
}

void harness::open_server(int port) {
    state_->call([s = state_.get(), port] {
        s->port = port;
        s->open = true;
    });
}

void harness::close_server() {
    state_->call([s = state_.get()] { s->open = false; });
}

void harness::set_load(bool on) {
    state_->call([s = state_.get(), on] {
        s->load = on;
        s->last_credit = clock_type::now();
        s->send_credit = 0;
    });
}

bool harness::all_disconnected() {
    return state_->call([s = state_.get()] {
        for (const auto& c : s->clients) {
            if (c.connected) {
                return false;
            }
        }
        return true;
    });
}

bool harness::all_connected_and_synced() {
    return state_->call([s = state_.get()] {
        for (const auto& c : s->clients) {
            if (!c.connected || c.dead || c.syncs_pending > 0 || !c.sync_queue.empty()) {
                return false;
            }
        }
        return true;
    });
}

std::size_t harness::outstanding() {
    return state_->call([s = state_.get()] {
        std::size_t n = 0;
        for (const auto& c : s->clients) {
            n += c.outstanding.size();
        }
        return n;
    });
}

message_map harness::acked() {
    return state_->call([s = state_.get()] { return s->acked; });
}

counters harness::totals() {
    return state_->call([s = state_.get()] { return s->totals; });
}

void harness::resync_all() {
    state_->call([s = state_.get()] {
        for (auto& c : s->clients) {
            s->queue_resync(c);
            if (c.wake) {
                c.wake->cancel();
            }
        }
    });
}

std::vector<std::map<std::string, std::map<std::uint64_t, std::string>>> harness::local_logs() {
    return state_->call([s = state_.get()] {
        std::vector<std::map<std::string, std::map<std::uint64_t, std::string>>> out;
        for (const auto& c : s->clients) {
            out.push_back(c.local);
        }
        return out;
    });
}

std::vector<std::string> harness::take_violations() {
    return state_->call([s = state_.get()] {
        auto v = std::move(s->violations);
        s->violations.clear();
        return v;
    });
}

}  // namespace monochat::chaos
