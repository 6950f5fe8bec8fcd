#include "bench/workloads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#include "bench/engine.hpp"

namespace monochat::bench {

namespace net = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::size_t members_per_call = 1000;

double secs_since(std::int64_t t0) { return static_cast<double>(now_us() - t0) / 1e6; }

// Quantile q of a histogram in milliseconds, rounded, or null when it is empty.
json q_ms(const histogram& h, double q) {
    const auto v = h.quantile(q);
    return v ? round_to(*v / 1000, 3) : json(nullptr);
}

std::vector<account> register_users(run_context& rc, std::size_t n, std::string_view prefix) {
    std::vector<account> acc(n);
    const std::string base = fmt::format("mb{}_{}", rc.run_id, prefix);
    parallel_http(rc.pool, rc.server, rc.sources, n, rc.opt.http_concurrency,
                  [&](http_session& s, std::size_t i) -> net::awaitable<void> {
                      acc[i] = co_await register_user(s, base + std::to_string(i));
                  });
    return acc;
}

// A private group owned by members[0] holding all of them; returns its group id.
std::string make_group(run_context& rc, const std::vector<account>& members, std::size_t from,
                       std::size_t to, const std::string& name) {
    std::string gid;
    // Contract v1.1: members come only from the owner's friends.
    parallel_http(rc.pool, rc.server, rc.sources, to - from - 1, 32,
                  [&](http_session& s, std::size_t i) -> net::awaitable<void> {
                      co_await befriend(s, members[from], members[from + 1 + i]);
                  });
    parallel_http(rc.pool, rc.server, rc.sources, 1, 1,
                  [&](http_session& s, std::size_t) -> net::awaitable<void> {
                      std::vector<std::string> ids;
                      for (std::size_t i = from + 1; i < to && ids.size() < members_per_call; ++i) {
                          ids.push_back(members[i].user_id);
                      }
                      gid = co_await create_group(s, members[from], name, ids);
                      for (std::size_t i = from + 1 + ids.size(); i < to;) {
                          std::vector<std::string> more;
                          for (; i < to && more.size() < members_per_call; ++i) {
                              more.push_back(members[i].user_id);
                          }
                          co_await add_members(s, members[from], gid, more);
                      }
                  });
    return gid;
}

std::string dm_of(const account& a, const account& b) {
    const auto lo = std::min(a.uid, b.uid);
    const auto hi = std::max(a.uid, b.uid);
    return fmt::format("dm:{}:{}", lo, hi);
}

std::vector<client*> raw(const std::vector<std::unique_ptr<client>>& v) {
    std::vector<client*> out;
    out.reserve(v.size());
    for (const auto& c : v) {
        out.push_back(c.get());
    }
    return out;
}

void add_sender(client& c, std::uint32_t sidx, std::string cid, std::uint64_t quota,
                double per_second, double phase) {
    c.sender = std::make_unique<sender_state>();
    c.sender->sidx = sidx;
    c.sender->conversation_id = std::move(cid);
    c.sender->quota = quota;
    c.sender->per_second = per_second;
    c.sender->phase = phase;
    c.th.senders.push_back(&c);
    if (c.th.by_sidx.size() <= sidx) {
        c.th.by_sidx.resize(sidx + 1, nullptr);
    }
    c.th.by_sidx[sidx] = &c;
}

std::uint64_t share(std::uint64_t total, std::size_t parts, std::size_t i) {
    return total / parts + (i < total % parts ? 1 : 0);
}

struct connect_figures {
    double secs = 0;
    std::uint64_t ok = 0, failed = 0, retries = 0;
};

connect_figures connect_and_count(run_context& rc, const std::vector<client*>& clients) {
    connect_figures f;
    f.secs = connect_all(rc, clients);
    for (client* c : clients) {
        f.ok += c->open ? 1 : 0;
    }
    f.failed = rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; });
    f.retries = rc.sum([](thread_ctx& t) -> counter& { return t.connect_retries; });
    return f;
}

void add_common(report& r, const run_context& rc, const options& o) {
    const auto m = describe_machine();
    r.doc["tool"] = "monochat-bench";
    r.doc["label"] = o.label;
    r.doc["workload"] = to_string(o.kind);
    r.doc["time"] = static_cast<std::int64_t>(std::time(nullptr));
    r.doc["machine"] = {{"cores", m.cores}, {"cpu", m.cpu_model}, {"mem_kb", m.mem_total_kb}};
    r.doc["gen"] = {{"threads", o.threads}, {"src_ips", o.src_ips}};
    r.doc["run_id"] = rc.run_id;
}

void add_connect(report& r, const connect_figures& c, std::size_t total) {
    r.doc["clients"] = total;
    r.doc["connect"] = {
        {"ok", c.ok},
        {"failed", c.failed},
        {"retries", c.retries},
        {"secs", round_to(c.secs, 3)},
        {"per_sec", round_to(c.secs > 0 ? static_cast<double>(c.ok) / c.secs : 0, 0)}};
    r.row("connections", fmt::format("{} of {} open in {:.2f} s ({} /s){}", c.ok, total, c.secs,
                                     thousands(c.secs > 0 ? static_cast<double>(c.ok) / c.secs : 0),
                                     c.failed ? fmt::format(", {} failed", c.failed) : ""));
    if (c.ok < total) {
        r.ok = false;
    }
}

// Machine CPU used by neither the server nor the generator during [a, b] (other processes,
// kernel time charged to nobody), in % of one core.
json machine_json(const snapshot& a, const snapshot& b) {
    if (!a.machine || !b.machine) {
        return nullptr;
    }
    const double secs = static_cast<double>(b.t_us - a.t_us) / 1e6;
    const double busy = b.machine->busy_s - a.machine->busy_s;
    const double srv = a.server_cpu_s && b.server_cpu_s ? *b.server_cpu_s - *a.server_cpu_s : 0;
    const double gen = b.gen_cpu_s - a.gen_cpu_s;
    return {{"busy_pct", round_to(100 * busy / secs, 1)},
            {"other_pct", round_to(100 * std::max(0.0, busy - srv - gen) / secs, 1)},
            {"steal_pct", round_to(100 * (b.machine->steal_s - a.machine->steal_s) / secs, 1)},
            {"cores", b.machine->cores}};
}

// Fills the figures of a message phase (fanout, pairs, search seeding). Call after the io
// threads stopped.
void message_figures(report& r, run_context& rc, const std::vector<client*>& all,
                     const message_phase_result& ph, const char* per_what) {
    const auto& o = rc.opt;
    histogram delivery;
    histogram ack;
    std::int64_t first_send = 0;
    std::int64_t last_send = 0;
    std::int64_t last_recv = 0;
    for (auto& t : rc.threads) {
        delivery.merge(t->delivery_us);
        ack.merge(t->ack_us);
        const auto f = t->first_send_us.load();
        if (f != 0 && (first_send == 0 || f < first_send)) {
            first_send = f;
        }
        last_send = std::max(last_send, t->last_send_us.load());
        last_recv = std::max(last_recv, t->last_recv_us.load());
    }
    std::vector<const sender_state*> by_sidx;
    std::uint64_t sent = 0, acked = 0, errors = 0;
    for (client* c : all) {
        if (c->sender) {
            const auto& s = *c->sender;
            if (by_sidx.size() <= s.sidx) {
                by_sidx.resize(s.sidx + 1, nullptr);
            }
            by_sidx[s.sidx] = &s;
            sent += s.sent;
            acked += s.acked;
            errors += s.errors;
        }
    }
    std::uint64_t expected = 0, lost = 0;
    for (client* c : all) {
        if (!c->ever_open) {
            continue;  // counted as a connection failure, not as lost messages
        }
        for (const auto& e : c->expects) {
            if (e.self || e.sidx >= by_sidx.size() || by_sidx[e.sidx] == nullptr) {
                continue;
            }
            expected += by_sidx[e.sidx]->acked;
            lost += by_sidx[e.sidx]->acked_set.count_missing_from(e.got);
        }
    }
    const auto delivered = rc.sum([](thread_ctx& t) -> counter& { return t.delivered; });
    const auto dup = rc.sum([](thread_ctx& t) -> counter& { return t.dup; });
    const auto unexpected = rc.sum([](thread_ctx& t) -> counter& { return t.unexpected; });
    const auto order = rc.sum([](thread_ctx& t) -> counter& { return t.order_violations; });
    const auto closed = rc.sum([](thread_ctx& t) -> counter& { return t.closed_by_server; });
    const double span =
        last_recv > first_send ? static_cast<double>(last_recv - first_send) / 1e6 : 0;
    const double send_span =
        last_send > first_send ? static_cast<double>(last_send - first_send) / 1e6 : 0;
    const double delivered_per_s = span > 0 ? static_cast<double>(delivered) / span : 0;
    const double sends_per_s = send_span > 0 ? static_cast<double>(sent) / send_span : 0;
    const double phase_s = static_cast<double>(ph.end.t_us - ph.begin.t_us) / 1e6;

    json msg = {{"sent", sent},
                {"acked", acked},
                {"errors", errors},
                {"unanswered", sent - acked - errors},
                {"expected", expected},
                {"delivered", delivered},
                {"lost", lost},
                {"dup", dup},
                {"unexpected", unexpected},
                {"order_violations", order},
                {"closed_by_server", closed},
                {"complete", ph.complete},
                {"secs", round_to(span, 3)},
                {"phase_secs", round_to(phase_s, 3)},
                {"sends_per_sec", round_to(sends_per_s, 0)},
                {"delivered_per_sec", round_to(delivered_per_s, 0)}};
    auto lat = [](const histogram& h) {
        return json{{"p50", q_ms(h, 0.5)},
                    {"p90", q_ms(h, 0.9)},
                    {"p99", q_ms(h, 0.99)},
                    {"max", round_to(static_cast<double>(h.max()) / 1000, 3)},
                    {"mean", round_to(h.mean() / 1000, 3)},
                    {"n", h.count()}};
    };
    msg["delivery_ms"] = lat(delivery);
    msg["ack_ms"] = lat(ack);
    r.doc["msg"] = msg;

    r.row("messages sent / acked / errors",
          fmt::format(
              "{} / {} / {}{}", thousands(static_cast<double>(sent)),
              thousands(static_cast<double>(acked)), errors,
              sent - acked - errors ? fmt::format(" ({} unanswered)", sent - acked - errors) : ""));
    r.row("sends per second", thousands(sends_per_s));
    r.row("deliveries expected / made",
          fmt::format("{} / {}", thousands(static_cast<double>(expected)),
                      thousands(static_cast<double>(delivered))));
    r.row("delivered messages per second",
          fmt::format("{} (over {:.2f} s, first send to last delivery)", thousands(delivered_per_s),
                      span));
    r.row("lost / duplicated",
          fmt::format("{} / {}{}", lost, dup,
                      unexpected ? fmt::format(" ({} unexpected pushes)", unexpected) : ""));
    if (order != 0) {
        r.row("pushes out of seq order", std::to_string(order));
    }
    if (closed != 0) {
        r.row("connections closed by the server", std::to_string(closed));
    }
    r.row("ack latency p50 / p99 / max",
          fmt::format("{} / {} / {}", ms(ack.quantile(0.5)), ms(ack.quantile(0.99)),
                      ms(static_cast<double>(ack.max()))));
    r.row("delivery latency p50 / p99 / max",
          fmt::format("{} / {} / {}", ms(delivery.quantile(0.5)), ms(delivery.quantile(0.99)),
                      ms(static_cast<double>(delivery.max()))));
    if (lost != 0 || dup != 0 || unexpected != 0 || order != 0) {
        r.ok = false;
    }

    json srv = nullptr;
    if (o.server_pid > 0 && ph.begin.server_cpu_s && ph.end.server_cpu_s) {
        const double cpu = *ph.end.server_cpu_s - *ph.begin.server_cpu_s;
        const auto mem = memory_of(o.server_pid);
        const auto peak = std::max(mem.hwm.value_or(0), ph.peak_rss_sampled_kb);
        srv = {{"pid", o.server_pid},
               {"cpu_s", round_to(cpu, 3)},
               {"cpu_pct", round_to(100 * cpu / phase_s, 1)},
               {"cpu_us_per_delivery",
                round_to(delivered ? 1e6 * cpu / static_cast<double>(delivered) : 0, 3)},
               {"peak_rss_kb", peak},
               {"rss_start_kb", ph.begin.server_rss_kb.value_or(0)},
               {"rss_end_kb", mem.rss.value_or(0)}};
        r.row(fmt::format("server CPU per delivered {}", per_what),
              fmt::format("{:.3f} us ({:.2f} s CPU over {:.2f} s = {:.0f} % of a core)",
                          delivered ? 1e6 * cpu / static_cast<double>(delivered) : 0, cpu, phase_s,
                          100 * cpu / phase_s));
        r.row("server peak RSS", fmt::format("{:.1f} MB", static_cast<double>(peak) / 1024));
    }
    r.doc["server"] = srv;
    const double gen_cpu = ph.end.gen_cpu_s - ph.begin.gen_cpu_s;
    r.doc["gen"]["cpu_s"] = round_to(gen_cpu, 3);
    r.doc["gen"]["cpu_pct"] = round_to(100 * gen_cpu / phase_s, 1);
    r.doc["gen"]["cpu_us_per_delivery"] =
        round_to(delivered ? 1e6 * gen_cpu / static_cast<double>(delivered) : 0, 3);
    r.doc["gen"]["rss_kb"] = memory_of(0).rss.value_or(0);
    r.row("generator CPU",
          fmt::format("{:.2f} s ({:.0f} % of a core, {:.3f} us per delivery)", gen_cpu,
                      100 * gen_cpu / phase_s,
                      delivered ? 1e6 * gen_cpu / static_cast<double>(delivered) : 0));
    r.doc["machine_load"] = machine_json(ph.begin, ph.end);
    if (!r.doc["machine_load"].is_null()) {
        r.row("machine busy / other load",
              fmt::format("{} % / {} % of one core", r.doc["machine_load"]["busy_pct"].dump(),
                          r.doc["machine_load"]["other_pct"].dump()));
    }
}

void finish(report& r, const run_context& rc) {
    r.doc["notes"] = rc.notes();
    r.doc["ok"] = r.ok;
    r.doc["wall_secs"] = round_to(static_cast<double>(now_us() - rc.started_us) / 1e6, 3);
}

json params_of(const options& o) {
    json p = {{"window", o.window},       {"pace", o.pace == pacing::ack ? "ack" : "probe"},
              {"rate", o.rate},           {"size", o.size},
              {"duration", o.duration_s}, {"drain", o.drain_s},
              {"messages", o.messages}};
    return p;
}

std::string pacing_text(const options& o) {
    if (o.rate > 0) {
        return fmt::format("{} msg/s in total, window {} ({})", thousands(o.rate), o.window,
                           o.pace == pacing::ack ? "acks free slots" : "probe receipts free slots");
    }
    return fmt::format("window {} per sender ({})", o.window,
                       o.pace == pacing::ack ? "acks free slots" : "probe receipts free slots");
}

void reset_server_peak(const options& o) {
    if (o.server_pid > 0 && !reset_peak_rss(o.server_pid)) {
        fmt::print(stderr,
                   "monochat-bench: cannot reset VmHWM of {}; peak RSS includes earlier runs\n",
                   o.server_pid);
    }
}

}  // namespace

// ---- fanout -----------------------------------------------------------------------------

report run_fanout(const options& o) {
    report r;
    run_context rc(o);
    std::vector<std::unique_ptr<client>> clients;
    const auto t_setup = now_us();
    const auto acc = register_users(rc, o.members, "f");
    const auto gid = make_group(rc, acc, 0, acc.size(), "bench " + rc.run_id);
    const std::string cid = "group:" + gid;
    const double setup_s = secs_since(t_setup);

    const std::size_t s_count = o.senders;
    for (std::size_t i = 0; i < o.members; ++i) {
        auto& th = *rc.threads[i % rc.threads.size()];
        auto c = std::make_unique<client>(rc, th, i);
        c->acct = acc[i];
        c->expects.resize(s_count);
        for (std::size_t s = 0; s < s_count; ++s) {
            c->expects[s].sidx = static_cast<std::uint32_t>(s);
            c->expects[s].self = s == i;
        }
        if (i < s_count) {
            add_sender(*c, static_cast<std::uint32_t>(i), cid, share(o.messages, s_count, i),
                       o.rate / static_cast<double>(s_count),
                       static_cast<double>(i) / static_cast<double>(s_count));
        } else {
            c->check_order = true;
        }
        clients.push_back(std::move(c));
    }
    // One probe receiver per thread: its thread's last receiver.
    std::vector<bool> has_probe(rc.threads.size(), false);
    for (auto it = clients.rbegin(); it != clients.rend(); ++it) {
        client& c = **it;
        const auto t = c.index % rc.threads.size();
        if (!c.sender && !has_probe[t]) {
            c.probe = true;
            has_probe[t] = true;
        }
    }
    const auto all = raw(clients);

    reset_server_peak(o);
    const auto conn = connect_and_count(rc, all);
    const auto ph = run_message_phase(rc, all);
    shutdown_clients(rc, all);

    r.title = fmt::format("monochat-bench fanout: {} members, {} senders, {}", o.members, o.senders,
                          pacing_text(o));
    add_common(r, rc, o);
    r.doc["params"] = params_of(o);
    r.doc["params"]["members"] = o.members;
    r.doc["params"]["senders"] = o.senders;
    r.doc["setup_secs"] = round_to(setup_s, 3);
    r.row("setup (register, group)", fmt::format("{:.1f} s", setup_s));
    add_connect(r, conn, o.members);
    message_figures(r, rc, all, ph, "message");
    finish(r, rc);
    return r;
}

// ---- pairs ------------------------------------------------------------------------------

report run_pairs(const options& o) {
    report r;
    run_context rc(o);
    std::vector<std::unique_ptr<client>> clients;
    const auto t_setup = now_us();
    const std::size_t n = 2 * o.pairs;
    const auto acc = register_users(rc, n, "p");
    parallel_http(rc.pool, rc.server, rc.sources, o.pairs, o.http_concurrency,
                  [&](http_session& s, std::size_t p) -> net::awaitable<void> {
                      co_await befriend(s, acc[2 * p], acc[2 * p + 1]);
                  });
    const double setup_s = secs_since(t_setup);

    for (std::size_t i = 0; i < n; ++i) {
        // both clients of a pair on one thread, so that each paces the other (pace probe)
        auto& th = *rc.threads[(i / 2) % rc.threads.size()];
        auto c = std::make_unique<client>(rc, th, i);
        c->acct = acc[i];
        const std::size_t partner = i ^ 1;
        c->expects.resize(1);
        c->expects[0].sidx = static_cast<std::uint32_t>(partner);
        c->probe = true;
        add_sender(*c, static_cast<std::uint32_t>(i), dm_of(acc[i], acc[partner]),
                   share(o.messages, n, i), o.rate / static_cast<double>(n),
                   static_cast<double>(i) / static_cast<double>(n));
        clients.push_back(std::move(c));
    }
    const auto all = raw(clients);

    reset_server_peak(o);
    const auto conn = connect_and_count(rc, all);
    const auto ph = run_message_phase(rc, all);
    shutdown_clients(rc, all);

    r.title = fmt::format("monochat-bench pairs: {} pairs, {}", o.pairs, pacing_text(o));
    add_common(r, rc, o);
    r.doc["params"] = params_of(o);
    r.doc["params"]["pairs"] = o.pairs;
    r.doc["setup_secs"] = round_to(setup_s, 3);
    r.row("setup (register, befriend)", fmt::format("{:.1f} s", setup_s));
    add_connect(r, conn, n);
    message_figures(r, rc, all, ph, "message");
    finish(r, rc);
    return r;
}

// ---- idle -------------------------------------------------------------------------------

report run_idle(const options& o) {
    report r;
    run_context rc(o);
    std::vector<std::unique_ptr<client>> clients;
    const auto t_setup = now_us();
    std::vector<account> acc(o.connections);
    // One guest per connection: one user per connection as in real use, no password hash.
    parallel_http(rc.pool, rc.server, rc.sources, o.connections, o.http_concurrency,
                  [&](http_session& s, std::size_t i) -> net::awaitable<void> {
                      acc[i] = co_await create_guest(s);
                  });
    const double setup_s = secs_since(t_setup);
    for (std::size_t i = 0; i < o.connections; ++i) {
        auto c = std::make_unique<client>(rc, *rc.threads[i % rc.threads.size()], i);
        c->acct = acc[i];
        clients.push_back(std::move(c));
    }
    const auto all = raw(clients);

    reset_server_peak(o);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let setup's work settle
    const auto s0 = take_snapshot(o.server_pid);
    const auto conn = connect_and_count(rc, all);
    const auto s1 = take_snapshot(o.server_pid);
    std::int64_t peak_sampled = 0;
    const auto hold_until = now_us() + static_cast<std::int64_t>(o.duration_s * 1e6);
    while (now_us() < hold_until && rc.seconds_left() > 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (o.server_pid > 0) {
            peak_sampled = std::max(peak_sampled, memory_of(o.server_pid).rss.value_or(0));
        }
    }
    const auto s2 = take_snapshot(o.server_pid);
    std::uint64_t still_open = 0;
    for (client* c : all) {
        still_open += c->open ? 1 : 0;
    }
    const auto gen_rss = memory_of(0).rss.value_or(0);
    shutdown_clients(rc, all);

    r.title = fmt::format("monochat-bench idle: {} connections held {:.0f} s", o.connections,
                          o.duration_s);
    add_common(r, rc, o);
    r.doc["params"] = {{"connections", o.connections}, {"duration", o.duration_s}};
    r.doc["setup_secs"] = round_to(setup_s, 3);
    r.row("setup (guests)", fmt::format("{:.1f} s", setup_s));
    add_connect(r, conn, o.connections);
    r.row("open at the end of the hold", fmt::format("{} of {}", still_open, o.connections));
    if (still_open < conn.ok) {
        r.ok = false;
    }
    json idle = {{"still_open", still_open},
                 {"hold_secs", round_to(static_cast<double>(s2.t_us - s1.t_us) / 1e6, 3)}};
    if (o.server_pid > 0 && s0.server_rss_kb && s2.server_rss_kb) {
        const double per = still_open ? static_cast<double>(*s2.server_rss_kb - *s0.server_rss_kb) /
                                            static_cast<double>(still_open)
                                      : 0;
        const double cpu_hold =
            s1.server_cpu_s && s2.server_cpu_s ? *s2.server_cpu_s - *s1.server_cpu_s : 0;
        const double cpu_connect =
            s0.server_cpu_s && s1.server_cpu_s ? *s1.server_cpu_s - *s0.server_cpu_s : 0;
        const auto hwm = memory_of(o.server_pid).hwm.value_or(0);
        idle["server_rss_before_kb"] = *s0.server_rss_kb;
        idle["server_rss_kb"] = *s2.server_rss_kb;
        idle["per_conn_kb"] = round_to(per, 3);
        idle["server_cpu_connect_s"] = round_to(cpu_connect, 3);
        idle["server_cpu_us_per_connect"] =
            round_to(conn.ok ? 1e6 * cpu_connect / static_cast<double>(conn.ok) : 0, 1);
        idle["server_cpu_hold_s"] = round_to(cpu_hold, 3);
        idle["server_peak_rss_kb"] = std::max(hwm, peak_sampled);
        r.row("server RSS before / with the connections",
              fmt::format("{:.1f} MB / {:.1f} MB", static_cast<double>(*s0.server_rss_kb) / 1024,
                          static_cast<double>(*s2.server_rss_kb) / 1024));
        r.row("server RSS per connection", fmt::format("{:.2f} KB", per));
        r.row("server CPU per connect",
              fmt::format("{:.0f} us",
                          conn.ok ? 1e6 * cpu_connect / static_cast<double>(conn.ok) : 0));
        r.row("server CPU while holding", fmt::format("{:.2f} s", cpu_hold));
        r.row("server peak RSS",
              fmt::format("{:.1f} MB", static_cast<double>(std::max(hwm, peak_sampled)) / 1024));
        r.doc["server"] = {{"pid", o.server_pid}, {"peak_rss_kb", std::max(hwm, peak_sampled)}};
    }
    r.doc["idle"] = idle;
    r.doc["gen"]["rss_kb"] = gen_rss;
    r.doc["gen"]["cpu_connect_s"] = round_to(s1.gen_cpu_s - s0.gen_cpu_s, 3);
    r.row("generator RSS", fmt::format("{:.1f} MB", static_cast<double>(gen_rss) / 1024));
    r.doc["machine_load"] = machine_json(s1, s2);
    finish(r, rc);
    return r;
}

// ---- reconnect --------------------------------------------------------------------------

report run_reconnect(const options& o) {
    report r;
    run_context rc(o);
    std::vector<std::unique_ptr<client>> clients;
    const auto t_setup = now_us();
    const auto acc = register_users(rc, o.connections, "r");
    const std::size_t gs = o.group_size;
    const std::size_t groups = (o.connections + gs - 1) / gs;
    std::vector<std::string> cids(groups);
    // Contract v1.1: members come only from the owner's friends.
    parallel_http(rc.pool, rc.server, rc.sources, o.connections, o.http_concurrency,
                  [&](http_session& s, std::size_t i) -> net::awaitable<void> {
                      if (i % gs != 0) {
                          co_await befriend(s, acc[i - i % gs], acc[i]);
                      }
                  });
    parallel_http(
        rc.pool, rc.server, rc.sources, groups, o.http_concurrency,
        [&](http_session& s, std::size_t g) -> net::awaitable<void> {
            std::vector<std::string> ids;
            for (std::size_t i = g * gs + 1; i < std::min(o.connections, (g + 1) * gs); ++i) {
                ids.push_back(acc[i].user_id);
            }
            cids[g] =
                "group:" + co_await create_group(s, acc[g * gs], fmt::format("storm {}", g), ids);
        });
    const double setup_s = secs_since(t_setup);
    for (std::size_t i = 0; i < o.connections; ++i) {
        auto c = std::make_unique<client>(rc, *rc.threads[i % rc.threads.size()], i);
        c->acct = acc[i];
        c->track_cid = cids[i / gs];
        clients.push_back(std::move(c));
    }
    const auto all = raw(clients);

    reset_server_peak(o);
    const auto conn = connect_and_count(rc, all);

    // Before the drop: one message per group, so that every client holds seq 1.
    const auto t_pre = now_us();
    for (std::size_t g = 0; g < groups; ++g) {
        client* owner = all[g * gs];
        net::post(owner->th.ioc, [owner, &rc, g, cid = cids[g]] {
            owner->send_frame(fmt::format(
                R"({{"type":"send","id":"pre","conversation_id":"{}","client_msg_id":"{}-pre-{}","body":{{"type":"text","text":"before the drop"}}}})",
                cid, rc.run_id, g));
        });
    }
    const auto held = [&rc] {
        return rc.sum([](thread_ctx& t) -> counter& { return t.delivered; });
    };
    while (held() < conn.ok && rc.seconds_left() > 0 && secs_since(t_pre) < 60) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto held_before = held();
    const double pre_s = secs_since(t_pre);

    // The drop: every connection closes at once.
    const auto t_drop = now_us();
    for (std::size_t i = 0; i < rc.threads.size(); ++i) {
        rc.pool.call(i, [&all, th = rc.threads[i].get()] {
            for (client* c : all) {
                if (&c->th == th) {
                    c->drop();
                }
            }
            return 0;
        });
    }
    const double drop_s = secs_since(t_drop);
    // While they are away: --missed messages per group, over HTTP by the group's owner.
    const auto t_missed = now_us();
    std::vector<std::uint64_t> final_seq(groups, 1);
    if (o.missed > 0) {
        parallel_http(rc.pool, rc.server, rc.sources, groups, o.http_concurrency,
                      [&](http_session& s, std::size_t g) -> net::awaitable<void> {
                          for (std::size_t k = 0; k < o.missed; ++k) {
                              final_seq[g] =
                                  co_await post_text(s, acc[g * gs], cids[g],
                                                     fmt::format("{}-miss-{}-{}", rc.run_id, g, k),
                                                     fmt::format("missed {} of group {}", k, g));
                          }
                      });
    }
    const double missed_s = secs_since(t_missed);
    // Let the server finish closing the dropped sessions before the storm.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));

    // The storm: everyone reconnects and syncs from the last seq it holds.
    const auto t_storm = now_us();
    for (client* c : all) {
        const auto fs = final_seq[c->index / gs];
        rc.pool.call(c->index % rc.threads.size(), [c, fs, t_storm] {
            c->target = fs;
            c->sync_on_open = true;
            c->storm_started_us = t_storm;
            return 0;
        });
    }
    const auto s_storm = take_snapshot(o.server_pid);
    const auto t_storm_launch = now_us();
    const auto failed_before = rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; });
    const auto opened_before = rc.sum([](thread_ctx& t) -> counter& { return t.opened; });
    rc.launch(all);
    std::int64_t all_open_us = 0;
    std::int64_t peak_sampled = 0;
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const auto synced = rc.sum([](thread_ctx& t) -> counter& { return t.synced; });
        const auto failed =
            rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; }) - failed_before;
        const auto opened =
            rc.sum([](thread_ctx& t) -> counter& { return t.opened; }) - opened_before;
        if (all_open_us == 0 && opened + failed >= all.size()) {
            all_open_us = now_us();
        }
        if (o.server_pid > 0) {
            peak_sampled = std::max(peak_sampled, memory_of(o.server_pid).rss.value_or(0));
        }
        if (synced + failed >= all.size()) {
            break;
        }
        if (rc.seconds_left() <= 0) {
            rc.note(
                fmt::format("--max-seconds reached: {} of {} clients synced", synced, all.size()));
            break;
        }
    }
    const auto s_end = take_snapshot(o.server_pid);
    shutdown_clients(rc, all);

    histogram ready;
    for (auto& t : rc.threads) {
        ready.merge(t->ready_us);
    }
    std::uint64_t synced = 0, lost = 0;
    for (client* c : all) {
        synced += c->synced ? 1 : 0;
        if (c->target > c->contiguous) {
            lost += c->target - c->contiguous;
        }
    }
    const auto dup = rc.sum([](thread_ctx& t) -> counter& { return t.dup; });
    const auto storm_failed =
        rc.sum([](thread_ctx& t) -> counter& { return t.connect_failed; }) - failed_before;
    const double storm_s = static_cast<double>(s_end.t_us - t_storm_launch) / 1e6;
    const double open_s =
        all_open_us ? static_cast<double>(all_open_us - t_storm_launch) / 1e6 : storm_s;

    r.title =
        fmt::format("monochat-bench reconnect: {} clients in groups of {}, {} missed messages each",
                    o.connections, gs, o.missed);
    add_common(r, rc, o);
    r.doc["params"] = {{"connections", o.connections},
                       {"group_size", gs},
                       {"missed", o.missed},
                       {"connect_concurrency", o.connect_concurrency}};
    r.doc["setup_secs"] = round_to(setup_s, 3);
    r.row("setup (register, groups)", fmt::format("{:.1f} s ({} groups)", setup_s, groups));
    add_connect(r, conn, o.connections);
    r.row("before the drop",
          fmt::format("{} of {} clients hold seq 1 after {:.2f} s", held_before, conn.ok, pre_s));
    r.row("drop / missed messages posted",
          fmt::format("{:.3f} s / {} in {:.2f} s", drop_s, groups * o.missed, missed_s));
    r.row("reconnected (all open)",
          fmt::format("{:.3f} s ({} /s)", open_s,
                      thousands(open_s > 0 ? static_cast<double>(all.size()) / open_s : 0)));
    r.row("all back and synced", fmt::format("{:.3f} s ({} of {} synced, {} failed)", storm_s,
                                             synced, all.size(), storm_failed));
    r.row("per client: storm start to synced p50 / p99 / max",
          fmt::format("{} / {} / {}", ms(ready.quantile(0.5)), ms(ready.quantile(0.99)),
                      ms(static_cast<double>(ready.max()))));
    r.row("lost / duplicated", fmt::format("{} / {}", lost, dup));
    if (lost != 0 || dup != 0 || synced < all.size()) {
        r.ok = false;
    }
    json rec = {{"synced", synced},
                {"failed", storm_failed},
                {"lost", lost},
                {"dup", dup},
                {"all_open_secs", round_to(open_s, 3)},
                {"all_synced_secs", round_to(storm_s, 3)},
                {"ready_ms",
                 {{"p50", q_ms(ready, 0.5)},
                  {"p99", q_ms(ready, 0.99)},
                  {"max", round_to(static_cast<double>(ready.max()) / 1000, 3)}}},
                {"missed_posted", groups * o.missed},
                {"missed_secs", round_to(missed_s, 3)}};
    if (o.server_pid > 0 && s_storm.server_cpu_s && s_end.server_cpu_s) {
        const double cpu = *s_end.server_cpu_s - *s_storm.server_cpu_s;
        const auto hwm = memory_of(o.server_pid).hwm.value_or(0);
        r.doc["server"] = {
            {"pid", o.server_pid},
            {"cpu_s", round_to(cpu, 3)},
            {"cpu_us_per_reconnect", round_to(1e6 * cpu / static_cast<double>(all.size()), 1)},
            {"peak_rss_kb", std::max(hwm, peak_sampled)}};
        r.row("server CPU during the storm",
              fmt::format("{:.2f} s ({:.0f} us per client)", cpu,
                          1e6 * cpu / static_cast<double>(all.size())));
        r.row("server peak RSS",
              fmt::format("{:.1f} MB", static_cast<double>(std::max(hwm, peak_sampled)) / 1024));
    }
    r.doc["gen"]["cpu_storm_s"] = round_to(s_end.gen_cpu_s - s_storm.gen_cpu_s, 3);
    r.doc["reconnect"] = rec;
    r.doc["machine_load"] = machine_json(s_storm, s_end);
    finish(r, rc);
    return r;
}

// ---- search -----------------------------------------------------------------------------

report run_search(const options& o) {
    report r;
    run_context rc(o);
    add_common(r, rc, o);
    r.title = fmt::format("monochat-bench search: {} messages of {} words, {} queries in flight",
                          o.messages, o.words, o.http_concurrency);
    std::vector<std::unique_ptr<client>> clients;
    const auto t_setup = now_us();
    const auto acc = register_users(rc, o.senders, "s");

    // Is the endpoint there? A missing route answers 404.
    int probe_status = 0;
    parallel_http(rc.pool, rc.server, rc.sources, 1, 1,
                  [&](http_session& s, std::size_t) -> net::awaitable<void> {
                      probe_status =
                          (co_await s.request("GET", "/api/v1/search/messages?q=probe&limit=1",
                                              std::string(), acc[0].token))
                              .status;
                  });
    if (probe_status != 200) {
        r.row("search", fmt::format("unavailable: GET /api/v1/search/messages answered HTTP {}",
                                    probe_status));
        r.doc["search"] = {{"available", false}, {"status", probe_status}};
        finish(r, rc);
        return r;
    }
    const auto gid = make_group(rc, acc, 0, acc.size(), "search " + rc.run_id);
    const std::string cid = "group:" + gid;
    const double setup_s = secs_since(t_setup);
    for (std::size_t i = 0; i < o.senders; ++i) {
        auto c = std::make_unique<client>(rc, *rc.threads[i % rc.threads.size()], i);
        c->acct = acc[i];
        c->expects.resize(o.senders);
        for (std::size_t s = 0; s < o.senders; ++s) {
            c->expects[s].sidx = static_cast<std::uint32_t>(s);
            c->expects[s].self = s == i;
        }
        add_sender(*c, static_cast<std::uint32_t>(i), cid, share(o.messages, o.senders, i), 0, 0);
        clients.push_back(std::move(c));
    }
    const auto all = raw(clients);
    reset_server_peak(o);
    const auto conn = connect_and_count(rc, all);

    // Seeding: as fast as the window allows, for at most half of --max-seconds.
    rc.opt.rate = 0;
    rc.opt.duration_s = std::max(o.max_seconds / 2, 1.0);
    const auto seed = run_message_phase(rc, all);
    rc.opt.duration_s = o.duration_s;
    std::uint64_t last_n = 0;
    for (std::size_t i = 0; i < rc.threads.size(); ++i) {
        rc.pool.call(i, [&all, &last_n, th = rc.threads[i].get()] {
            for (client* c : all) {
                if (&c->th == th) {
                    c->drop();
                    if (c->sender->sidx == 0) {
                        last_n = c->sender->acked > 0 ? c->sender->sent - 1 : 0;
                    }
                }
            }
            return 0;
        });
    }
    const double seed_s = static_cast<double>(seed.end.t_us - seed.begin.t_us) / 1e6;
    const auto seeded = rc.sum([](thread_ctx& t) -> counter& { return t.acked; });

    // Index lag: until the last message of sender 0 is found by one of its words.
    const auto words = message_words(o, 0, last_n);
    const std::string needle = fmt::format(R"("text":"0:{}:)", last_n);
    double lag_s = -1;
    parallel_http(
        rc.pool, rc.server, rc.sources, 1, 1,
        [&](http_session& s, std::size_t) -> net::awaitable<void> {
            const auto t0 = now_us();
            net::steady_timer pause(co_await net::this_coro::executor);
            while (secs_since(t0) < 60 && rc.seconds_left() > o.duration_s + 2) {
                const auto rep = co_await s.request(
                    "GET",
                    fmt::format("/api/v1/search/messages?q={}&conversation_id={}&limit=200",
                                words[0], cid),
                    std::string(), acc[0].token);
                if (rep.status == 200 && rep.body.find(needle) != std::string::npos) {
                    lag_s = static_cast<double>(now_us() - seed.end.t_us) / 1e6;
                    break;
                }
                pause.expires_after(std::chrono::milliseconds(50));
                co_await pause.async_wait(net::use_awaitable);
            }
        });

    // Queries: --http-concurrency clients, one word each, for --duration s.
    std::mutex mutex;
    histogram latency;
    std::uint64_t queries = 0, failures = 0, hits = 0, empty = 0;
    const auto s0 = take_snapshot(o.server_pid);
    const auto until = now_us() + static_cast<std::int64_t>(o.duration_s * 1e6);
    parallel_http(rc.pool, rc.server, rc.sources, o.http_concurrency, o.http_concurrency,
                  [&](http_session& s, std::size_t w) -> net::awaitable<void> {
                      std::mt19937_64 gen(w * 7919 + 1);
                      histogram h;
                      std::uint64_t q = 0, f = 0, found = 0, none = 0;
                      const auto& who = acc[w % acc.size()];
                      while (now_us() < until) {
                          const auto word = vocab_word(gen() % o.vocab);
                          const auto t = now_us();
                          const auto rep = co_await s.request(
                              "GET", fmt::format("/api/v1/search/messages?q={}&limit=20", word),
                              std::string(), who.token);
                          h.record(now_us() - t);
                          ++q;
                          if (rep.status != 200) {
                              ++f;
                              continue;
                          }
                          std::size_t n = 0;
                          for (auto at = rep.body.find(R"("message_id")"); at != std::string::npos;
                               at = rep.body.find(R"("message_id")", at + 1)) {
                              ++n;
                          }
                          found += n;
                          none += n == 0 ? 1 : 0;
                      }
                      std::lock_guard lock(mutex);
                      latency.merge(h);
                      queries += q;
                      failures += f;
                      hits += found;
                      empty += none;
                  });
    const auto s1 = take_snapshot(o.server_pid);
    rc.pool.stop();

    const double qs = static_cast<double>(s1.t_us - s0.t_us) / 1e6;
    r.doc["params"] = {{"messages", o.messages},  {"senders", o.senders},
                       {"words", o.words},        {"vocab", o.vocab},
                       {"window", o.window},      {"http_concurrency", o.http_concurrency},
                       {"duration", o.duration_s}};
    r.doc["setup_secs"] = round_to(setup_s, 3);
    r.row("setup (register, group)", fmt::format("{:.1f} s", setup_s));
    add_connect(r, conn, o.senders);
    r.row("history stored",
          fmt::format("{} messages in {:.1f} s ({} /s)", thousands(static_cast<double>(seeded)),
                      seed_s, thousands(seed_s > 0 ? static_cast<double>(seeded) / seed_s : 0)));
    r.row("searchable after", lag_s >= 0
                                  ? fmt::format("{:.2f} s (last message found by a word)", lag_s)
                                  : std::string("not found within 60 s"));
    r.row("queries",
          fmt::format("{} in {:.1f} s = {} /s, {} failed, {} with no match", queries, qs,
                      thousands(qs > 0 ? static_cast<double>(queries) / qs : 0), failures, empty));
    r.row("query latency p50 / p99 / max",
          fmt::format("{} / {} / {}", ms(latency.quantile(0.5)), ms(latency.quantile(0.99)),
                      ms(static_cast<double>(latency.max()))));
    r.row("results per query",
          fmt::format("{:.1f}",
                      queries ? static_cast<double>(hits) / static_cast<double>(queries) : 0));
    json sj = {{"available", true},
               {"seeded", seeded},
               {"seed_secs", round_to(seed_s, 3)},
               {"seed_per_sec", round_to(seed_s > 0 ? static_cast<double>(seeded) / seed_s : 0, 0)},
               {"index_lag_secs", lag_s >= 0 ? json(round_to(lag_s, 3)) : json(nullptr)},
               {"queries", queries},
               {"failed", failures},
               {"empty", empty},
               {"qps", round_to(qs > 0 ? static_cast<double>(queries) / qs : 0, 1)},
               {"latency_ms",
                {{"p50", q_ms(latency, 0.5)},
                 {"p99", q_ms(latency, 0.99)},
                 {"max", round_to(static_cast<double>(latency.max()) / 1000, 3)}}}};
    if (o.server_pid > 0 && s0.server_cpu_s && s1.server_cpu_s) {
        const double cpu = *s1.server_cpu_s - *s0.server_cpu_s;
        sj["server_cpu_s"] = round_to(cpu, 3);
        sj["server_cpu_us_per_query"] =
            round_to(queries ? 1e6 * cpu / static_cast<double>(queries) : 0, 1);
        r.row("server CPU per query",
              fmt::format("{:.0f} us ({:.2f} s)",
                          queries ? 1e6 * cpu / static_cast<double>(queries) : 0, cpu));
        const auto mem = memory_of(o.server_pid);
        r.doc["server"] = {{"pid", o.server_pid}, {"peak_rss_kb", mem.hwm.value_or(0)}};
        r.row("server peak RSS",
              fmt::format("{:.1f} MB", static_cast<double>(mem.hwm.value_or(0)) / 1024));
    }
    r.doc["search"] = sj;
    if (failures != 0 || lag_s < 0) {
        r.ok = false;
    }
    finish(r, rc);
    return r;
}

// ---- group-100k ---------------------------------------------------------------------------

namespace {

// The lines of `monochat seed --out`: "user_id username token".
std::vector<account> read_seeded(const std::string& path) {
    std::vector<account> out;
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
        throw std::runtime_error("cannot read " + path);
    }
    char id[32];
    char name[64];
    char token[80];
    while (std::fscanf(f, "%31s %63s %79s", id, name, token) == 3) {
        account a;
        a.user_id = id;
        a.uid = std::stoull(a.user_id);
        a.token = token;
        out.push_back(std::move(a));
    }
    std::fclose(f);
    return out;
}

// The conversation's last_seq in `who`'s conversation list (0 when absent).
std::uint64_t last_seq_in(const std::string& body, const std::string& cid) {
    const auto list = json::parse(body);
    for (const auto& c : list["conversations"]) {
        if (c.value("conversation_id", std::string()) == cid) {
            return c.value("last_seq", std::uint64_t{0});
        }
    }
    return 0;
}

struct timed_http {
    histogram latency;
    std::uint64_t failures = 0;
    std::string last_body;
    double server_cpu_s = 0;
};

// `n` requests one after another (the cost of one, not of a crowd), with the server's CPU.
timed_http time_requests(run_context& rc, std::size_t n, const std::string& method,
                         const std::string& target, const account& who) {
    timed_http t;
    const auto s0 = take_snapshot(rc.opt.server_pid);
    parallel_http(rc.pool, rc.server, rc.sources, 1, 1,
                  [&](http_session& s, std::size_t) -> net::awaitable<void> {
                      for (std::size_t i = 0; i < n; ++i) {
                          const auto t0 = now_us();
                          auto rep = co_await s.request(method, target, std::string(), who.token);
                          t.latency.record(now_us() - t0);
                          if (rep.status != 200) {
                              ++t.failures;
                          }
                          t.last_body = std::move(rep.body);
                      }
                  });
    const auto s1 = take_snapshot(rc.opt.server_pid);
    if (s0.server_cpu_s && s1.server_cpu_s) {
        t.server_cpu_s = *s1.server_cpu_s - *s0.server_cpu_s;
    }
    return t;
}

json timed_json(const timed_http& t, std::size_t n) {
    return {{"n", n},
            {"failed", t.failures},
            {"p50_ms", q_ms(t.latency, 0.5)},
            {"max_ms", round_to(static_cast<double>(t.latency.max()) / 1000, 3)},
            {"server_cpu_ms_each",
             round_to(n ? 1e3 * t.server_cpu_s / static_cast<double>(n) : 0, 3)}};
}

}  // namespace

report run_group100k(const options& o) {
    report r;
    run_context rc(o);
    rc.opt.track_last = true;
    const auto t_setup = now_us();
    const auto acc = read_seeded(o.seeded);
    const std::size_t reserve = o.churners + o.offline_syncs;
    if (acc.size() < reserve + o.senders + 1) {
        throw std::runtime_error(fmt::format("{} holds {} accounts; the run needs more than {}",
                                             o.seeded, acc.size(), reserve + o.senders));
    }
    // As many online as the descriptors allow (the server's share of the machine's limit is
    // not ours to count: --online sets it).
    const std::uint64_t nofile = raise_nofile_limit();
    std::size_t online = o.online != 0 ? o.online : acc.size() - reserve;
    online = std::min(online, acc.size() - reserve);
    online = std::min<std::size_t>(online, nofile - o.http_concurrency - reserve - 64);
    const std::string cid = "group:" + o.group_id;

    std::vector<std::unique_ptr<client>> clients;
    for (std::size_t i = 0; i < online; ++i) {
        auto& th = *rc.threads[i % rc.threads.size()];
        auto c = std::make_unique<client>(rc, th, i);
        c->acct = acc[i];
        c->expects.resize(o.senders);
        for (std::size_t s = 0; s < o.senders; ++s) {
            c->expects[s].sidx = static_cast<std::uint32_t>(s);
            c->expects[s].self = s == i;
        }
        if (i < o.senders) {
            add_sender(*c, static_cast<std::uint32_t>(i), cid, share(o.messages, o.senders, i),
                       o.rate / static_cast<double>(o.senders),
                       static_cast<double>(i) / static_cast<double>(o.senders));
        } else {
            c->check_order = true;
            if (o.readers_every != 0 && i % o.readers_every == 0) {
                c->read_every = 10;
            }
        }
        clients.push_back(std::move(c));
    }
    const auto all = raw(clients);
    const double setup_s = secs_since(t_setup);

    reset_server_peak(o);
    const auto conn = connect_and_count(rc, all);
    // Before: the conversation list of a member (also the group's seq before the messages).
    const auto list_before =
        time_requests(rc, 10, "GET", "/api/v1/conversations", acc[o.senders]);
    const std::uint64_t seq_before = last_seq_in(list_before.last_body, cid);

    // Churn while the messages flow: each churner leaves and rejoins in turn.
    std::atomic<bool> churn_stop{false};
    std::mutex churn_mutex;
    histogram churn_lat;
    std::uint64_t churn_ops = 0, churn_failed = 0;
    std::thread churn([&] {
        if (o.churners == 0 || o.churn_rate <= 0) {
            return;
        }
        try {
            parallel_http(
                rc.pool, rc.server, rc.sources, o.churners, o.churners,
                [&](http_session& s, std::size_t k) -> net::awaitable<void> {
                    const account& who = acc[online + k];
                    const auto period = std::chrono::microseconds(static_cast<std::int64_t>(
                        1e6 * static_cast<double>(o.churners) / o.churn_rate));
                    net::steady_timer timer(co_await net::this_coro::executor);
                    timer.expires_after(period * static_cast<std::int64_t>(k) /
                                        static_cast<std::int64_t>(o.churners));
                    co_await timer.async_wait(net::use_awaitable);
                    histogram h;
                    std::uint64_t ops = 0, failed = 0;
                    bool member = true;
                    // Until told to stop, and then once more if that makes it a member again.
                    int after_stop = 0;
                    while (!(churn_stop.load() && member) &&
                           !(churn_stop.load() && ++after_stop > 3)) {
                        const auto t0 = now_us();
                        // Not a conditional expression around co_await: GCC 12 frees a
                        // temporary of such an expression twice.
                        http_reply rep;
                        if (member) {
                            const std::string target = fmt::format(
                                "/api/v1/groups/{}/members/{}", o.group_id, who.user_id);
                            rep = co_await s.request("DELETE", target, std::string(), who.token);
                        } else {
                            const std::string target =
                                fmt::format("/api/v1/groups/{}/join", o.group_id);
                            rep = co_await s.request("POST", target, std::string(), who.token);
                        }
                        h.record(now_us() - t0);
                        ++ops;
                        if (rep.status == (member ? 204 : 200)) {
                            member = !member;
                        } else if (member && rep.status == 404) {
                            member = false;  // an earlier run stopped with it outside
                        } else {
                            ++failed;
                            rc.note(fmt::format("churn: HTTP {} {}", rep.status, rep.body));
                        }
                        if (!churn_stop.load()) {
                            timer.expires_after(period);
                            co_await timer.async_wait(net::use_awaitable);
                        }
                    }
                    std::lock_guard lock(churn_mutex);
                    churn_lat.merge(h);
                    churn_ops += ops;
                    churn_failed += failed;
                });
        } catch (const std::exception& e) {
            rc.note(fmt::format("churn stopped: {}", e.what()));
        }
    });
    const auto ph = run_message_phase(rc, all);
    churn_stop = true;
    churn.join();

    // After: the list and `readers` of the last message, then offline members' sync.
    const auto list_after = time_requests(rc, 20, "GET", "/api/v1/conversations", acc[o.senders]);
    const std::uint64_t seq_after = last_seq_in(list_after.last_body, cid);
    const auto readers =
        time_requests(rc, 20, "GET",
                      fmt::format("/api/v1/conversations/{}/messages/{}/readers", cid, seq_after),
                      acc[o.senders]);
    json readers_doc = timed_json(readers, 20);
    try {
        const auto rj = json::parse(readers.last_body);
        readers_doc["read_count"] = rj.value("read_count", std::uint64_t{0});
        readers_doc["member_count"] = rj.value("member_count", std::uint64_t{0});
    } catch (const std::exception&) {
        rc.note("readers: not JSON");
    }

    std::vector<std::unique_ptr<client>> offline;
    for (std::size_t j = 0; j < o.offline_syncs; ++j) {
        const std::size_t idx = online + o.churners + j;
        auto c = std::make_unique<client>(rc, *rc.threads[idx % rc.threads.size()], idx);
        c->acct = acc[idx];
        c->track_cid = cid;
        c->count_held = false;
        c->contiguous = seq_before;
        c->target = seq_after;
        offline.push_back(std::move(c));
    }
    const auto offline_raw = raw(offline);
    histogram sync_ready;
    double sync_cpu = 0;
    double sync_secs = 0;
    std::uint64_t synced = 0;
    if (!offline.empty()) {
        const auto t_sync = now_us();
        for (client* c : offline_raw) {
            rc.pool.call(c->index % rc.threads.size(), [c, t_sync] {
                c->sync_on_open = true;
                c->storm_started_us = t_sync;
                return 0;
            });
        }
        const auto s0 = take_snapshot(o.server_pid);
        const auto synced_base = rc.sum([](thread_ctx& t) -> counter& { return t.synced; });
        rc.launch(offline_raw);
        while (rc.seconds_left() > 0 &&
               rc.sum([](thread_ctx& t) -> counter& { return t.synced; }) - synced_base <
                   offline_raw.size() &&
               secs_since(t_sync) < 60) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        const auto s1 = take_snapshot(o.server_pid);
        sync_secs = secs_since(t_sync);
        if (s0.server_cpu_s && s1.server_cpu_s) {
            sync_cpu = *s1.server_cpu_s - *s0.server_cpu_s;
        }
    }
    std::vector<client*> everyone = all;
    everyone.insert(everyone.end(), offline_raw.begin(), offline_raw.end());
    shutdown_clients(rc, everyone);
    for (auto& t : rc.threads) {
        sync_ready.merge(t->ready_us);
    }
    for (client* c : offline_raw) {
        synced += c->synced ? 1 : 0;
    }

    // Each message's last push over all receivers: when its last shard had gone out.
    std::vector<std::vector<std::int64_t>> last;
    for (auto& t : rc.threads) {
        for (std::size_t sidx = 0; sidx < t->last_arrival_us.size(); ++sidx) {
            if (last.size() <= sidx) {
                last.resize(sidx + 1);
            }
            const auto& v = t->last_arrival_us[sidx];
            if (last[sidx].size() < v.size()) {
                last[sidx].resize(v.size(), 0);
            }
            for (std::size_t n = 0; n < v.size(); ++n) {
                last[sidx][n] = std::max(last[sidx][n], v[n]);
            }
        }
    }
    histogram last_push;
    for (const auto& v : last) {
        for (const auto us : v) {
            if (us > 0) {
                last_push.record(us);
            }
        }
    }

    r.title = fmt::format("monochat-bench group-100k: group {}, {} online, {} senders, {}",
                          o.group_id, online, o.senders, pacing_text(o));
    add_common(r, rc, o);
    r.doc["params"] = params_of(o);
    r.doc["params"]["online"] = online;
    r.doc["params"]["senders"] = o.senders;
    r.doc["params"]["group_id"] = o.group_id;
    r.doc["params"]["churners"] = o.churners;
    r.doc["params"]["churn_rate"] = o.churn_rate;
    r.doc["params"]["readers_every"] = o.readers_every;
    r.doc["setup_secs"] = round_to(setup_s, 3);
    add_connect(r, conn, online);
    message_figures(r, rc, all, ph, "message push");
    r.doc["last_push_ms"] = {{"p50", q_ms(last_push, 0.5)},
                             {"p99", q_ms(last_push, 0.99)},
                             {"max", round_to(static_cast<double>(last_push.max()) / 1000, 3)},
                             {"n", last_push.count()}};
    r.row("per message, last push p50 / p99 / max",
          fmt::format("{} / {} / {}", ms(last_push.quantile(0.5)), ms(last_push.quantile(0.99)),
                      ms(static_cast<double>(last_push.max()))));
    r.doc["churn"] = {{"ops", churn_ops},
                      {"failed", churn_failed},
                      {"p50_ms", q_ms(churn_lat, 0.5)},
                      {"max_ms", round_to(static_cast<double>(churn_lat.max()) / 1000, 3)}};
    r.row("join/leave while sending",
          fmt::format("{} ops, {} failed, p50 {} / max {}", churn_ops, churn_failed,
                      ms(churn_lat.quantile(0.5)), ms(static_cast<double>(churn_lat.max()))));
    r.doc["conversation_list"] = {{"before", timed_json(list_before, 10)},
                                  {"after", timed_json(list_after, 20)}};
    r.row("conversation list p50 / max (server CPU each)",
          fmt::format("{} / {} ({:.2f} ms)", ms(list_after.latency.quantile(0.5)),
                      ms(static_cast<double>(list_after.latency.max())),
                      1e3 * list_after.server_cpu_s / 20));
    r.doc["readers"] = readers_doc;
    r.row("readers of the last message p50 / max (server CPU each)",
          fmt::format("{} / {} ({:.2f} ms), {} of {} read", ms(readers.latency.quantile(0.5)),
                      ms(static_cast<double>(readers.latency.max())), 1e3 * readers.server_cpu_s / 20,
                      readers_doc.value("read_count", std::uint64_t{0}),
                      readers_doc.value("member_count", std::uint64_t{0})));
    r.doc["offline_sync"] = {{"clients", offline_raw.size()},
                             {"synced", synced},
                             {"messages", seq_after - seq_before},
                             {"secs", round_to(sync_secs, 3)},
                             {"p50_ms", q_ms(sync_ready, 0.5)},
                             {"max_ms", round_to(static_cast<double>(sync_ready.max()) / 1000, 3)},
                             {"server_cpu_ms_each",
                              round_to(offline_raw.empty() ? 0
                                                           : 1e3 * sync_cpu /
                                                                 static_cast<double>(offline_raw.size()),
                                       3)}};
    r.row("offline member's sync (connect + sync)",
          fmt::format("{} of {} synced {} messages: p50 {} / max {}, {:.1f} ms server CPU each",
                      synced, offline_raw.size(), seq_after - seq_before, ms(sync_ready.quantile(0.5)),
                      ms(static_cast<double>(sync_ready.max())),
                      offline_raw.empty() ? 0 : 1e3 * sync_cpu / static_cast<double>(offline_raw.size())));
    if (synced < offline_raw.size() || churn_failed != 0 || readers.failures != 0 ||
        list_after.failures != 0) {
        r.ok = false;
    }
    finish(r, rc);
    return r;
}

}  // namespace monochat::bench
