#include "bench/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <boost/asio/post.hpp>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

namespace monochat::bench {

namespace net = boost::asio;

namespace {

constexpr std::size_t max_notes = 20;
constexpr std::size_t printed_notes = 10;
constexpr int connect_attempts = 3;
constexpr auto handshake_timeout = std::chrono::seconds(30);
constexpr auto rate_tick = std::chrono::milliseconds(1);

std::optional<std::string_view> str_field(std::string_view s, std::string_view key) {
    auto at = s.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    at += key.size();
    const auto end = s.find('"', at);
    if (end == std::string_view::npos) {
        return std::nullopt;
    }
    return s.substr(at, end - at);
}

template <class T>
std::optional<T> to_number(std::string_view s) {
    T v{};
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p == s.data()) {
        return std::nullopt;
    }
    return v;
}

std::optional<std::uint64_t> num_field(std::string_view s, std::string_view key) {
    const auto at = s.find(key);
    if (at == std::string_view::npos) {
        return std::nullopt;
    }
    return to_number<std::uint64_t>(s.substr(at + key.size()));
}

void append_number(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, p);
}

void store_max(std::atomic<std::int64_t>& a, std::int64_t v) {
    if (v > a.load(std::memory_order_relaxed)) {
        a.store(v, std::memory_order_relaxed);
    }
}

std::string random_id(std::size_t n) {
    static constexpr char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    std::mt19937 gen{std::random_device{}()};
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += chars[gen() % 36];
    }
    return s;
}

std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

}  // namespace

// ---- seen_set ---------------------------------------------------------------------------

std::uint64_t seen_set::count_missing_from(const seen_set& other) const {
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < words_.size(); ++i) {
        const std::uint64_t theirs = i < other.words_.size() ? other.words_[i] : 0;
        n += static_cast<std::uint64_t>(std::popcount(words_[i] & ~theirs));
    }
    return n;
}

std::uint64_t seen_set::size() const {
    std::uint64_t n = 0;
    for (auto w : words_) {
        n += static_cast<std::uint64_t>(std::popcount(w));
    }
    return n;
}

// ---- run_context ------------------------------------------------------------------------

run_context::run_context(const options& o) : opt(o), run_id(random_id(6)), pool(o.threads) {
    boost::system::error_code ec;
    const auto addr = net::ip::make_address(o.host, ec);
    if (ec || !addr.is_v4() || (addr.to_v4().to_uint() >> 24) != 127) {
        throw std::runtime_error(
            "--host must be a loopback address in 127.0.0.0/8: this tool talks to loopback only");
    }
    server.endpoint = net::ip::tcp::endpoint(addr, o.port);
    server.host_header = fmt::format("{}:{}", o.host, o.port);
    for (std::size_t i = 0; i < o.src_ips; ++i) {
        sources.push_back(net::ip::make_address_v4(
            static_cast<net::ip::address_v4::uint_type>((127U << 24) | (2 + i))));
    }
    for (std::size_t i = 0; i < pool.size(); ++i) {
        threads.push_back(std::make_unique<thread_ctx>(pool.at(i)));
    }
    started_us = now_us();
}

run_context::~run_context() { pool.stop(); }

void run_context::launch(std::vector<client*> order) {
    launch_order = std::move(order);
    launch_next = 0;
    const auto first = std::min(opt.connect_concurrency, launch_order.size());
    for (std::size_t i = 0; i < first; ++i) {
        launch_one();
    }
}

void run_context::launch_one() {
    const auto i = launch_next.fetch_add(1);
    if (i < launch_order.size()) {
        launch_order[i]->start_connect();
    }
}

void run_context::note(std::string text) {
    std::lock_guard lock(notes_mutex_);
    if (notes_.size() < printed_notes) {
        fmt::print(stderr, "monochat-bench: {}\n", text);
    }
    if (notes_.size() < max_notes) {
        notes_.push_back(std::move(text));
    } else {
        ++notes_dropped_;
    }
}

std::vector<std::string> run_context::notes() const {
    std::lock_guard lock(notes_mutex_);
    auto out = notes_;
    if (notes_dropped_ > 0) {
        out.push_back(fmt::format("... and {} more", notes_dropped_));
    }
    return out;
}

double run_context::seconds_left() const {
    return opt.max_seconds - static_cast<double>(now_us() - started_us) / 1e6;
}

// ---- client -----------------------------------------------------------------------------

client::client(run_context& rc, thread_ctx& t, std::size_t i)
    : index(i), th(t), rc_(rc), retry_(t.ioc) {}

client::~client() = default;

void client::start_connect() {
    net::post(th.ioc, [this] {
        attempts_ = 0;
        handshake_pending_ = true;
        if (conn_) {
            old_.push_back(std::move(conn_));
        }
        conn_ = std::make_unique<ws_connection>(th.ioc, *this);
        ++attempts_;
        conn_->start(rc_.server.endpoint, rc_.sources[index % rc_.sources.size()],
                     rc_.server.host_header, acct.token, handshake_timeout);
    });
}

void client::drop() {
    if (conn_) {
        conn_->drop();
    }
}

void client::on_open(std::string_view) {
    open = true;
    ever_open = true;
    th.opened.add();
    if (handshake_pending_) {
        handshake_pending_ = false;
        rc_.launch_one();
    }
    if (sync_on_open) {
        if (contiguous >= target) {
            hold_seq(0);  // nothing was missed: synced at once
        } else {
            request_sync(contiguous);
        }
    }
}

void client::on_closed(bool opened, int close_code, std::string_view why) {
    open = false;
    if (!opened) {
        if (attempts_ < connect_attempts) {
            th.connect_retries.add();
            retry_.expires_after(std::chrono::milliseconds(200 * attempts_));
            retry_.async_wait([this](const boost::system::error_code& ec) {
                if (ec) {
                    return;
                }
                old_.push_back(std::move(conn_));
                conn_ = std::make_unique<ws_connection>(th.ioc, *this);
                ++attempts_;
                conn_->start(rc_.server.endpoint, rc_.sources[index % rc_.sources.size()],
                             rc_.server.host_header, acct.token, handshake_timeout);
            });
            return;
        }
        th.connect_failed.add();
        rc_.note(fmt::format("client {}: connection failed after {} attempts: {}", index, attempts_,
                             why));
        if (handshake_pending_) {
            handshake_pending_ = false;
            rc_.launch_one();
        }
        return;
    }
    if (why != "dropped by the client") {
        th.closed_by_server.add();
        rc_.note(
            fmt::format("client {}: connection ended (close code {}): {}", index, close_code, why));
    }
}

void client::on_text(std::string_view frame) {
    if (frame.starts_with(R"({"type":"message",)")) {
        on_push(frame);
        return;
    }
    const auto type = str_field(frame, R"("type":")");
    if (!type) {
        return;
    }
    if (*type == "ack") {
        on_ack(frame);
    } else if (*type == "error") {
        on_error(frame);
    } else if (*type == "sync_result") {
        on_sync_result(frame);
    }
    // receipts, typing, presence, events, pongs: nothing to count
}

void client::on_push(std::string_view frame) {
    const std::int64_t t = now_us();
    store_max(th.last_recv_us, t);
    const auto seq = num_field(frame, R"("seq":)");
    if (!track_cid.empty()) {
        if (seq && str_field(frame, R"("conversation_id":")") == std::string_view(track_cid)) {
            hold_seq(*seq);
        }
        return;
    }
    if (check_order && seq) {
        if (last_push_seq_ != 0 && *seq != last_push_seq_ + 1) {
            th.order_violations.add();
        }
        last_push_seq_ = *seq;
    }
    const auto text = str_field(frame, R"("text":")");
    if (!text) {
        th.unexpected.add();
        return;
    }
    // "<sidx>:<n>:<send us>:..."
    const auto a = text->find(':');
    const auto b = a == std::string_view::npos ? a : text->find(':', a + 1);
    const auto c = b == std::string_view::npos ? b : text->find(':', b + 1);
    if (c == std::string_view::npos) {
        th.unexpected.add();
        return;
    }
    const auto sidx = to_number<std::uint32_t>(text->substr(0, a));
    const auto n = to_number<std::uint64_t>(text->substr(a + 1, b - a - 1));
    const auto sent_at = to_number<std::int64_t>(text->substr(b + 1, c - b - 1));
    if (!sidx || !n || !sent_at) {
        th.unexpected.add();
        return;
    }
    th.delivery_us.record(t - *sent_at);
    if (rc_.opt.track_last) {
        auto& per_sender = th.last_arrival_us;
        if (per_sender.size() <= *sidx) {
            per_sender.resize(*sidx + 1);
        }
        auto& last = per_sender[*sidx];
        if (last.size() <= *n) {
            last.resize(std::max<std::size_t>(*n + 1, last.size() * 2), 0);
        }
        last[*n] = std::max(last[*n], t - *sent_at);
    }
    if (read_every != 0 && seq && *seq % read_every == 0) {
        if (const auto cid = str_field(frame, R"("conversation_id":")")) {
            frame_.clear();
            frame_ += R"({"type":"read","conversation_id":")";
            frame_ += *cid;
            frame_ += R"(","seq":)";
            append_number(frame_, *seq);
            frame_ += '}';
            send_frame(frame_);
            frame_.clear();
            frame_ += R"({"type":"typing","conversation_id":")";
            frame_ += *cid;
            frame_ += R"("})";
            send_frame(frame_);
        }
    }
    expectation* e = nullptr;
    if (expects.size() == 1) {
        e = expects[0].sidx == *sidx ? &expects[0] : nullptr;
    } else if (*sidx < expects.size() && expects[*sidx].sidx == *sidx) {
        e = &expects[*sidx];
    } else {
        for (auto& x : expects) {
            if (x.sidx == *sidx) {
                e = &x;
                break;
            }
        }
    }
    if (e == nullptr || e->self) {
        th.unexpected.add();
        return;
    }
    if (e->got.insert(*n)) {
        th.delivered.add();
    } else {
        th.dup.add();
    }
    if (probe && rc_.opt.pace == pacing::probe && *sidx < th.by_sidx.size()) {
        if (client* s = th.by_sidx[*sidx]) {
            s->sender->probe_next = std::max(s->sender->probe_next, *n + 1);
            s->pump();
        }
    }
}

void client::on_ack(std::string_view frame) {
    const std::int64_t t = now_us();
    const auto id = str_field(frame, R"("id":")");
    if (!track_cid.empty()) {
        if (const auto seq = num_field(frame, R"("seq":)")) {
            hold_seq(*seq);
        }
    }
    if (!sender || !id) {
        return;
    }
    const auto n = to_number<std::uint64_t>(*id);
    auto& s = *sender;
    if (!n || *n >= s.send_us.size() || !s.acked_set.insert(*n)) {
        return;
    }
    ++s.acked;
    ++s.completed;
    th.acked.add();
    th.expected.add(s.recipients);
    th.ack_us.record(t - s.send_us[*n]);
    pump();
}

void client::on_error(std::string_view frame) {
    const auto id = str_field(frame, R"("id":")");
    rc_.note(fmt::format("client {}: error frame {}", index, frame.substr(0, 200)));
    if (!sender || !id) {
        return;
    }
    const auto n = to_number<std::uint64_t>(*id);
    if (!n || *n >= sender->send_us.size() || sender->acked_set.contains(*n)) {
        return;
    }
    ++sender->errors;
    ++sender->completed;
    th.send_errors.add();
    pump();
}

void client::on_sync_result(std::string_view frame) {
    const auto j = nlohmann::json::parse(frame, nullptr, false);
    if (j.is_discarded()) {
        rc_.note(fmt::format("client {}: unparseable sync_result", index));
        return;
    }
    std::uint64_t highest = 0;
    if (j.contains("messages") && j["messages"].is_array()) {
        for (const auto& m : j["messages"]) {
            const auto seq = m.value("seq", std::uint64_t{0});
            highest = std::max(highest, seq);
            if (seq != 0 && m.value("conversation_id", std::string()) == track_cid) {
                hold_seq(seq);
            }
        }
    }
    if (j.value("has_more", false) && highest > 0) {
        request_sync(highest);
    }
}

void client::hold_seq(std::uint64_t seq) {
    if (seq != 0) {
        if (seqs.insert(seq)) {
            if (count_held) {
                th.delivered.add();
            }
        } else {
            th.dup.add();
        }
        while (seqs.contains(contiguous + 1)) {
            ++contiguous;
        }
    }
    if (!synced && target != 0 && contiguous >= target && storm_started_us != 0) {
        synced = true;
        th.synced.add();
        th.ready_us.record(now_us() - storm_started_us);
    }
}

void client::request_sync(std::uint64_t after) {
    frame_.clear();
    frame_ += R"({"type":"sync","id":"s)";
    append_number(frame_, ++sync_requests_);
    frame_ += R"(","conversation_id":")";
    frame_ += track_cid;
    frame_ += R"(","after_seq":)";
    append_number(frame_, after);
    frame_ += R"(,"limit":200})";
    send_frame(frame_);
}

void client::send_frame(std::string_view frame) {
    if (conn_) {
        conn_->send_text(frame);
    }
}

void client::pump() {
    if (!sender) {
        return;
    }
    auto& s = *sender;
    if (s.finished) {
        return;
    }
    const bool stopping = rc_.stop_sending.load(std::memory_order_relaxed);
    const bool usable = conn_ && conn_->is_open();
    const std::uint64_t window = rc_.opt.window;
    const bool by_ack = rc_.opt.pace == pacing::ack;
    std::int64_t t = 0;
    while (!stopping && usable && s.sent < s.quota && s.sent < s.allowed) {
        const std::uint64_t freed =
            by_ack ? s.completed : std::min(s.sent, s.probe_next + s.errors);
        if (s.sent - freed >= window) {
            break;
        }
        t = now_us();
        const std::uint64_t n = s.sent;
        make_text(rc_.opt, s.sidx, n, t, text_);
        frame_.clear();
        frame_ += R"({"type":"send","id":")";
        append_number(frame_, n);
        frame_ += R"(","conversation_id":")";
        frame_ += s.conversation_id;
        frame_ += R"(","client_msg_id":")";
        frame_ += rc_.run_id;
        frame_ += '-';
        append_number(frame_, s.sidx);
        frame_ += '-';
        append_number(frame_, n);
        frame_ += R"(","body":{"type":"text","text":")";
        frame_ += text_;
        frame_ += R"("}})";
        conn_->send_text(frame_);
        s.send_us.push_back(t);
        ++s.sent;
        th.sent.add();
        if (th.first_send_us.load(std::memory_order_relaxed) == 0) {
            th.first_send_us.store(t, std::memory_order_relaxed);
        }
    }
    if (t != 0) {
        th.last_send_us.store(t, std::memory_order_relaxed);
    }
    if (stopping || !usable || s.sent >= s.quota) {
        s.finished = true;
        th.senders_finished.add();
    }
}

// ---- phases -----------------------------------------------------------------------------

snapshot take_snapshot(int server_pid) {
    snapshot s;
    s.t_us = now_us();
    if (server_pid > 0) {
        s.server_cpu_s = cpu_seconds(server_pid);
        s.server_rss_kb = memory_of(server_pid).rss;
    }
    s.gen_cpu_s = cpu_seconds(0).value_or(0);
    s.machine = machine_cpu_now();
    return s;
}

double connect_all(run_context& rc, const std::vector<client*>& clients) {
    const auto t0 = now_us();
    const auto base = rc.sum([](thread_ctx& t) -> counter& { return t.opened; }) +
                      rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; });
    rc.launch(clients);
    for (;;) {
        const auto done = rc.sum([](thread_ctx& t) -> counter& { return t.opened; }) +
                          rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; }) - base;
        if (done >= clients.size()) {
            break;
        }
        if (rc.seconds_left() <= 0) {
            rc.note(fmt::format("--max-seconds reached while connecting ({} of {} done)", done,
                                clients.size()));
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return static_cast<double>(now_us() - t0) / 1e6;
}

namespace {

void rate_tick_on(run_context& rc, thread_ctx& th) {
    const bool stopping = rc.stop_sending.load(std::memory_order_relaxed);
    const double elapsed = static_cast<double>(now_us() - th.go_us) / 1e6;
    for (client* c : th.senders) {
        auto& s = *c->sender;
        if (!stopping && s.per_second > 0) {
            s.allowed = static_cast<std::uint64_t>(std::floor(s.per_second * elapsed + s.phase));
        }
        c->pump();
    }
    if (stopping) {
        return;
    }
    th.rate_timer.expires_after(rate_tick);
    th.rate_timer.async_wait([&rc, &th](const boost::system::error_code& ec) {
        if (!ec) {
            rate_tick_on(rc, th);
        }
    });
}

}  // namespace

message_phase_result run_message_phase(run_context& rc, const std::vector<client*>& all) {
    const auto& o = rc.opt;
    message_phase_result r;

    // Deliveries each acknowledged message must make: one per connected client expecting it.
    std::vector<std::uint32_t> recipients;
    std::size_t senders = 0;
    for (client* c : all) {
        if (!c->open) {
            continue;
        }
        for (const auto& e : c->expects) {
            if (!e.self) {
                if (e.sidx >= recipients.size()) {
                    recipients.resize(e.sidx + 1, 0);
                }
                ++recipients[e.sidx];
            }
        }
    }
    for (client* c : all) {
        if (c->sender) {
            c->sender->recipients =
                c->sender->sidx < recipients.size() ? recipients[c->sender->sidx] : 0;
            if (c->open) {
                ++senders;
            }
        }
    }

    r.begin = take_snapshot(o.server_pid);
    const auto go = [&rc](thread_ctx& th) {
        th.go_us = now_us();
        const bool paced = rc.opt.rate > 0;
        for (client* c : th.senders) {
            if (paced) {
                c->sender->allowed = static_cast<std::uint64_t>(std::floor(c->sender->phase));
            }
            c->pump();
        }
        if (paced) {
            rate_tick_on(rc, th);
        }
    };
    for (auto& th : rc.threads) {
        net::post(th->ioc, [&go, t = th.get()] { go(*t); });
    }
    const auto go_us = now_us();
    const auto finished_base = rc.sum([](thread_ctx& t) -> counter& { return t.senders_finished; });
    bool stop_posted = false;
    std::uint64_t last_progress = 0;
    std::int64_t last_change = now_us();
    const auto stop_all = [&] {
        rc.stop_sending = true;
        for (auto& th : rc.threads) {
            net::post(th->ioc, [t = th.get()] {
                for (client* c : t->senders) {
                    c->pump();
                }
            });
        }
        stop_posted = true;
    };
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto now = now_us();
        if (o.server_pid > 0) {
            r.peak_rss_sampled_kb =
                std::max(r.peak_rss_sampled_kb, memory_of(o.server_pid).rss.value_or(0));
        }
        if (!stop_posted && (now - go_us >= static_cast<std::int64_t>(o.duration_s * 1e6) ||
                             rc.seconds_left() < o.drain_s + 2)) {
            stop_all();
        }
        const auto sent = rc.sum([](thread_ctx& t) -> counter& { return t.sent; });
        const auto completed = rc.sum([](thread_ctx& t) -> counter& { return t.acked; }) +
                               rc.sum([](thread_ctx& t) -> counter& { return t.send_errors; });
        const auto delivered = rc.sum([](thread_ctx& t) -> counter& { return t.delivered; });
        const auto expected = rc.sum([](thread_ctx& t) -> counter& { return t.expected; });
        const auto finished =
            rc.sum([](thread_ctx& t) -> counter& { return t.senders_finished; }) - finished_base;
        const bool sending_over = finished >= senders;
        if (sending_over && r.send_end_us == 0) {
            r.send_end_us = now;
        }
        if (delivered + completed != last_progress) {
            last_progress = delivered + completed;
            last_change = now;
        }
        if (sending_over && completed >= sent && delivered >= expected) {
            r.complete = true;
            break;
        }
        if (sending_over && now - last_change >= static_cast<std::int64_t>(o.drain_s * 1e6)) {
            rc.note(fmt::format(
                "drain: nothing new for {} s; {} of {} sends answered, {} of {} deliveries",
                o.drain_s, completed, sent, delivered, expected));
            break;
        }
        if (rc.seconds_left() <= 0) {
            rc.note("--max-seconds reached during the message phase");
            break;
        }
    }
    r.end = take_snapshot(o.server_pid);
    if (!stop_posted) {
        stop_all();
    }
    return r;
}

void shutdown_clients(run_context& rc, const std::vector<client*>& all) {
    rc.stop_sending = true;
    std::vector<std::vector<client*>> per_thread(rc.threads.size());
    for (client* c : all) {
        for (std::size_t i = 0; i < rc.threads.size(); ++i) {
            if (&c->th == rc.threads[i].get()) {
                per_thread[i].push_back(c);
            }
        }
    }
    for (std::size_t i = 0; i < rc.threads.size(); ++i) {
        rc.pool.call(i, [&list = per_thread[i], th = rc.threads[i].get()] {
            th->rate_timer.cancel();
            for (client* c : list) {
                c->drop();
            }
            return 0;
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    rc.pool.stop();
}

// ---- message text -----------------------------------------------------------------------

std::string vocab_word(std::size_t k) {
    static constexpr const char* syllables[16] = {"ka", "lo", "mi", "ne", "ru", "sa", "to", "vi",
                                                  "be", "do", "fu", "gi", "ha", "ju", "pe", "zo"};
    std::string w = "q";  // no vocabulary word is a prefix of another: all have 5 syllables
    for (int i = 0; i < 5; ++i) {
        w += syllables[k & 15];
        k >>= 4;
    }
    return w;
}

std::vector<std::string> message_words(const options& o, std::uint32_t sidx, std::uint64_t n) {
    std::vector<std::string> out;
    for (std::size_t j = 0; j < o.words; ++j) {
        out.push_back(
            vocab_word(mix((static_cast<std::uint64_t>(sidx) << 40) ^ (n << 8) ^ j) % o.vocab));
    }
    return out;
}

void make_text(const options& o, std::uint32_t sidx, std::uint64_t n, std::int64_t t_us,
               std::string& out) {
    out.clear();
    append_number(out, sidx);
    out += ':';
    append_number(out, n);
    out += ':';
    append_number(out, static_cast<std::uint64_t>(t_us));
    out += ':';
    if (o.kind == workload::search) {
        for (const auto& w : message_words(o, sidx, n)) {
            out += ' ';
            out += w;
        }
    } else if (out.size() < o.size) {
        out.append(o.size - out.size(), 'x');
    }
}

}  // namespace monochat::bench
