// monochat-chaos: the crash test of issue 10 (docs/reliability.md).
//
// It starts the real monochat binary (rocksdb, sync = always, port 0) on a data dir of its own,
// creates users, friendships and groups over the HTTP API, and lets WebSocket clients send
// messages with client_msg_ids while the server is killed with SIGKILL at random moments (a
// seeded RNG; the seed is printed) and restarted on the same data dir, for N rounds. Clients
// reconnect, resend what was not acknowledged with the same client_msg_id, and resync with
// `sync`. After every round it reads every conversation's stored log over HTTP and checks:
// every acknowledged message is there once, at the seq its ack named; seqs run 1..last with no
// gap; no (sender, client_msg_id) is stored twice. At the end, with every send acknowledged, the
// stored log must be exactly the acknowledged messages and every client's resynced copy must
// equal it. A full-disk round then runs a second server on a size-capped filesystem (tmpfs, or
// a loop-mounted image), fills it, and checks that sends fail with `unavailable` rather than
// being acknowledged, that they succeed again once space returns, and that everything
// acknowledged survives a kill.
//
//   monochat-chaos --binary build/src/app/monochat --rounds 200 [--seed S] [--clients 8]
//                  [--window 4] [--rate 400] [--min-load-ms 200] [--max-load-ms 1200]
//                  [--max-seconds 1800] [--disk-mb 64] [--no-full-disk] [--work-dir DIR]
//                  [--verify-every 1] [--keep]
//
// Exit status: 0 when nothing was violated, 1 on a violation, 2 on bad arguments, 3 when the
// run could not be carried out (the server did not start, setup failed).

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "chaos/harness.hpp"
#include "chaos/server.hpp"
#include "support/http_client.hpp"

namespace chaos = monochat::chaos;
using monochat::test::http_client;
using std::chrono::milliseconds;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
    std::string binary;
    int rounds = 20;
    std::uint64_t seed = 0;
    bool seed_given = false;
    std::size_t clients = 8;
    std::size_t window = 4;
    double rate = 400;
    int min_load_ms = 200;
    int max_load_ms = 1200;
    int max_seconds = 1800;
    int disk_mb = 64;
    bool full_disk = true;
    std::string work_dir;
    int verify_every = 1;
    bool keep = false;
};

[[noreturn]] void usage(const std::string& why) {
    fmt::print(stderr,
               "monochat-chaos: {}\n"
               "usage: monochat-chaos --binary PATH [--rounds N] [--seed S] [--clients N]\n"
               "       [--window N] [--rate PER_S] [--min-load-ms MS] [--max-load-ms MS]\n"
               "       [--max-seconds S] [--disk-mb MB] [--no-full-disk] [--work-dir DIR]\n"
               "       [--verify-every N] [--keep]\n",
               why);
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage(a + " needs a value");
            }
            return argv[++i];
        };
        try {
            if (a == "--binary") {
                o.binary = value();
            } else if (a == "--rounds") {
                o.rounds = std::stoi(value());
            } else if (a == "--seed") {
                o.seed = std::stoull(value());
                o.seed_given = true;
            } else if (a == "--clients") {
                o.clients = std::stoul(value());
            } else if (a == "--window") {
                o.window = std::stoul(value());
            } else if (a == "--rate") {
                o.rate = std::stod(value());
            } else if (a == "--min-load-ms") {
                o.min_load_ms = std::stoi(value());
            } else if (a == "--max-load-ms") {
                o.max_load_ms = std::stoi(value());
            } else if (a == "--max-seconds") {
                o.max_seconds = std::stoi(value());
            } else if (a == "--disk-mb") {
                o.disk_mb = std::stoi(value());
            } else if (a == "--no-full-disk") {
                o.full_disk = false;
            } else if (a == "--work-dir") {
                o.work_dir = value();
            } else if (a == "--verify-every") {
                o.verify_every = std::stoi(value());
            } else if (a == "--keep") {
                o.keep = true;
            } else {
                usage("unknown argument " + a);
            }
        } catch (const std::invalid_argument&) {
            usage("bad value for " + a);
        } catch (const std::out_of_range&) {
            usage("bad value for " + a);
        }
    }
    if (o.binary.empty()) {
        usage("--binary is required");
    }
    if (o.rounds < 0 || o.clients < 2 || o.window < 1 || o.min_load_ms < 0 ||
        o.max_load_ms < o.min_load_ms || o.verify_every < 1 || o.disk_mb < 8) {
        usage("a value is out of range");
    }
    if (!o.seed_given) {
        o.seed = std::random_device{}() ^
                 static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
    }
    return o;
}

void sleep_ms(long ms) { std::this_thread::sleep_for(milliseconds(ms)); }

template <class Pred>
bool wait_for(Pred pred, milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
        if (pred()) {
            return true;
        }
        sleep_ms(5);
    }
    return pred();
}

double ms_since(clock_type::time_point t) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

// ---------------------------------------------------------------------------------------------
// Violations

struct report {
    std::vector<std::string> violations;
    void add(std::string v) {
        fmt::print("VIOLATION: {}\n", v);
        std::fflush(stdout);
        violations.push_back(std::move(v));
    }
    void add_all(std::vector<std::string> vs) {
        for (auto& v : vs) {
            add(std::move(v));
        }
    }
};

// ---------------------------------------------------------------------------------------------
// Setup over HTTP

nlohmann::json expect(const monochat::test::http_reply& r, int status, const std::string& what) {
    if (r.status != status) {
        throw std::runtime_error(
            fmt::format("{}: expected HTTP {}, got {} {}", what, status, r.status, r.body));
    }
    return r.body.empty() ? nlohmann::json() : r.json();
}

struct population {
    std::vector<chaos::client_account> clients;
    std::map<std::string, std::string> reader_token;  // conversation -> token of a member
};

population create_population(http_client& http, std::size_t users, const std::string& prefix) {
    population p;
    for (std::size_t i = 0; i < users; ++i) {
        const std::string name = fmt::format("{}{}", prefix, i);
        nlohmann::json body = {{"username", name}, {"password", "chaos password"}};
        auto j = expect(http.post("/api/v1/auth/register", body), 201, "register " + name);
        chaos::client_account a;
        a.user_id = j["user"]["user_id"].get<std::string>();
        a.token = j["token"].get<std::string>();
        a.conversations.push_back("world");
        p.clients.push_back(std::move(a));
    }
    p.reader_token["world"] = p.clients[0].token;
    // Friends around a ring: every user has two direct chats (one when there are two users).
    for (std::size_t i = 0; i < users; ++i) {
        const std::size_t k = (i + 1) % users;
        if (users == 2 && i == 1) {
            break;
        }
        auto& a = p.clients[i];
        auto& b = p.clients[k];
        nlohmann::json req = {{"user_id", b.user_id}};
        auto r = expect(http.post("/api/v1/friends/requests", req, a.token), 201, "friend request");
        const auto id = r["request"]["request_id"].get<std::string>();
        expect(http.post("/api/v1/friends/requests/" + id + "/accept", b.token), 200, "accept");
        const auto x = std::stoull(a.user_id);
        const auto y = std::stoull(b.user_id);
        const std::string dm = fmt::format("dm:{}:{}", std::min(x, y), std::max(x, y));
        a.conversations.push_back(dm);
        b.conversations.push_back(dm);
        p.reader_token[dm] = a.token;
    }
    // Members come only from the owner's friends (contract v1.1): client 0 befriends everyone
    // it is not a ring neighbour of.
    for (std::size_t i = 2; i + 1 < users; ++i) {
        nlohmann::json req = {{"user_id", p.clients[i].user_id}};
        auto r = expect(http.post("/api/v1/friends/requests", req, p.clients[0].token), 201,
                        "friend request");
        const auto id = r["request"]["request_id"].get<std::string>();
        expect(http.post("/api/v1/friends/requests/" + id + "/accept", p.clients[i].token), 200,
               "accept");
    }
    // A group of everyone and one of the first half.
    auto make_group = [&](std::size_t members) {
        nlohmann::json ids = nlohmann::json::array();
        for (std::size_t i = 1; i < members; ++i) {
            ids.push_back(p.clients[i].user_id);
        }
        nlohmann::json body = {{"name", "chaos"}, {"member_ids", ids}};
        auto g = expect(http.post("/api/v1/groups", body, p.clients[0].token), 201, "group");
        const std::string cid = g["group"]["conversation_id"].get<std::string>();
        for (std::size_t i = 0; i < members; ++i) {
            p.clients[i].conversations.push_back(cid);
        }
        p.reader_token[cid] = p.clients[0].token;
    };
    make_group(users);
    if (users >= 4) {
        make_group(users / 2);
    }
    return p;
}

// ---------------------------------------------------------------------------------------------
// Verification against the stored log

struct stored_message {
    std::uint64_t seq = 0;
    std::string message_id;
    std::string sender_id;
    std::string client_msg_id;
};

using stored_logs = std::map<std::string, std::vector<stored_message>>;

std::vector<stored_message> fetch_log(http_client& http, const std::string& conversation,
                                      const std::string& token) {
    std::vector<stored_message> out;
    std::uint64_t after = 0;
    for (;;) {
        const std::string target = fmt::format(
            "/api/v1/conversations/{}/messages?after_seq={}&limit=200", conversation, after);
        auto j = expect(http.get(target, token), 200, "history of " + conversation);
        for (const auto& m : j["messages"]) {
            stored_message s;
            s.seq = m.value("seq", std::uint64_t{0});
            s.message_id = m.value("message_id", "");
            s.sender_id = m.value("sender_id", "");
            s.client_msg_id = m.value("client_msg_id", "");
            after = s.seq;
            out.push_back(std::move(s));
        }
        if (!j.value("has_more", false) || j["messages"].empty()) {
            return out;
        }
    }
}

// Reads every conversation and checks it against what was acknowledged. With `complete`, also
// that nothing unacknowledged is stored (every send has been acknowledged by then).
// Messages found stored although their ack never arrived (the server died between the commit
// and the ack): sender/client_msg_id -> (conversation, seq, message_id). Their resend must be
// answered with this same seq and message_id, and store nothing new.
using unacked_map = std::map<std::string, std::tuple<std::string, std::uint64_t, std::string>>;

stored_logs verify_store(http_client& http, const population& p, const chaos::message_map& acked,
                         bool complete, report& rep, const std::string& when,
                         unacked_map* unacked = nullptr) {
    stored_logs logs;
    std::set<std::string> keys;
    std::set<std::string> acked_keys;
    for (const auto& [conversation, messages] : acked) {
        for (const auto& [seq, a] : messages) {
            acked_keys.insert(a.sender_id + "/" + a.client_msg_id);
        }
    }
    for (const auto& [conversation, token] : p.reader_token) {
        auto log = fetch_log(http, conversation, token);
        std::map<std::uint64_t, const stored_message*> by_seq;
        for (std::size_t i = 0; i < log.size(); ++i) {
            const auto& m = log[i];
            if (m.seq != i + 1) {
                rep.add(fmt::format("{}: {} has seq {} at position {} (gap or repeat; expected {})",
                                    when, conversation, m.seq, i + 1, i + 1));
                break;
            }
            by_seq[m.seq] = &m;
            const std::string key = m.sender_id + "/" + m.client_msg_id;
            if (!m.client_msg_id.empty() && !keys.insert(key).second) {
                rep.add(fmt::format("{}: {} stored twice (second at {} seq {})", when, key,
                                    conversation, m.seq));
            }
            if (unacked != nullptr && acked_keys.count(key) == 0) {
                auto [prev, inserted] =
                    unacked->emplace(key, std::make_tuple(conversation, m.seq, m.message_id));
                if (!inserted &&
                    prev->second != std::make_tuple(conversation, m.seq, m.message_id)) {
                    rep.add(fmt::format("{}: unacknowledged {} moved from {} seq {} to {} seq {}",
                                        when, key, std::get<0>(prev->second),
                                        std::get<1>(prev->second), conversation, m.seq));
                }
            }
        }
        auto it = acked.find(conversation);
        if (it != acked.end()) {
            for (const auto& [seq, a] : it->second) {
                auto s = by_seq.find(seq);
                if (s == by_seq.end()) {
                    rep.add(fmt::format(
                        "{}: acknowledged {} seq {} ({}/{}) is missing (stored "
                        "last seq {})",
                        when, conversation, seq, a.sender_id, a.client_msg_id, log.size()));
                } else if (s->second->message_id != a.message_id ||
                           s->second->client_msg_id != a.client_msg_id) {
                    rep.add(
                        fmt::format("{}: {} seq {} was acknowledged as {} ({}) but holds {} ({})",
                                    when, conversation, seq, a.message_id, a.client_msg_id,
                                    s->second->message_id, s->second->client_msg_id));
                }
            }
        }
        if (complete) {
            const std::size_t n_acked = it == acked.end() ? 0 : it->second.size();
            if (n_acked != log.size()) {
                rep.add(fmt::format("{}: {} stores {} messages but {} were acknowledged", when,
                                    conversation, log.size(), n_acked));
            }
        }
        logs.emplace(conversation, std::move(log));
    }
    return logs;
}

void verify_clients(chaos::harness& h, const stored_logs& logs, report& rep,
                    const std::string& when) {
    const auto locals = h.local_logs();
    const auto accounts = h.accounts();
    for (std::size_t i = 0; i < locals.size(); ++i) {
        for (const auto& conversation : accounts[i].conversations) {
            const auto& stored = logs.at(conversation);
            auto it = locals[i].find(conversation);
            const std::size_t have = it == locals[i].end() ? 0 : it->second.size();
            if (have != stored.size()) {
                rep.add(fmt::format("{}: client {} holds {} messages of {}, the store {}", when, i,
                                    have, conversation, stored.size()));
                continue;
            }
            for (const auto& m : stored) {
                auto l = it->second.find(m.seq);
                if (l == it->second.end() || l->second != m.message_id) {
                    rep.add(fmt::format("{}: client {} differs from the store at {} seq {}", when,
                                        i, conversation, m.seq));
                    break;
                }
            }
        }
    }
}

// Stops the load, waits until every send is acknowledged, resyncs every client and compares
// everything with the stored log.
void settle_and_verify_all(chaos::harness& h, http_client& http, const population& p, report& rep,
                           const std::string& when, const unacked_map& unacked) {
    h.set_load(false);
    if (!wait_for([&] { return h.outstanding() == 0; }, milliseconds(30000))) {
        rep.add(fmt::format("{}: {} sends still unacknowledged after 30 s", when, h.outstanding()));
    }
    h.resync_all();
    if (!wait_for([&] { return h.all_connected_and_synced(); }, milliseconds(30000))) {
        rep.add(when + ": clients did not finish their resync within 30 s");
    }
    rep.add_all(h.take_violations());
    const auto acked = h.acked();
    const auto logs = verify_store(http, p, acked, true, rep, when);
    verify_clients(h, logs, rep, when);
    // A message stored before its ack was lost must have been acknowledged on the resend with
    // the seq and message_id it already had (idempotency across the crash).
    std::map<std::string, std::pair<std::uint64_t, std::string>> by_key;
    for (const auto& [conversation, messages] : acked) {
        for (const auto& [seq, a] : messages) {
            by_key[a.sender_id + "/" + a.client_msg_id] = {seq, a.message_id};
        }
    }
    for (const auto& [key, where] : unacked) {
        auto it = by_key.find(key);
        if (it == by_key.end() || it->second.first != std::get<1>(where) ||
            it->second.second != std::get<2>(where)) {
            rep.add(
                fmt::format("{}: {} was stored at {} seq {} before the crash, but its resend "
                            "was acknowledged {}",
                            when, key, std::get<0>(where), std::get<1>(where),
                            it == by_key.end() ? std::string("never")
                                               : fmt::format("as seq {}", it->second.first)));
        }
    }
}

nlohmann::json server_config() {
    return {
        {"server", {{"host", "127.0.0.1"}}},
        {"storage", {{"engine", "rocksdb"}, {"sync", "always"}}},
        {"log", {{"level", "info"}}},
        {"auth", {{"argon2_ops", 1}, {"argon2_memory_kib", 64}}},
        {"limits", {{"auth_rate", 1000000}, {"send_rate", 100000}, {"send_burst", 100000}}},
    };
}

struct percentile_set {
    std::vector<double> v;
    double at(double q) {
        if (v.empty()) {
            return 0;
        }
        std::sort(v.begin(), v.end());
        const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
        return v[std::min(i, v.size() - 1)];
    }
};

// ---------------------------------------------------------------------------------------------
// Kill rounds

struct kill_summary {
    int rounds = 0;
    percentile_set restart_ms;   // spawn to /readyz 200
    percentile_set downtime_ms;  // SIGKILL to /readyz 200
    chaos::counters totals;
    std::size_t stored = 0;
    std::size_t stored_unacked = 0;  // stored, but the ack died with the server
    bool bounded_out = false;
};

kill_summary kill_rounds(const options& o, const std::string& work, std::mt19937_64& rng,
                         report& rep, clock_type::time_point deadline) {
    kill_summary sum;
    const std::string data = work + "/data";
    chaos::server srv(o.binary, work, data, server_config());
    srv.start(milliseconds(30000));
    http_client http("127.0.0.1", srv.port());
    const auto p = create_population(http, o.clients, fmt::format("chaos{}_", getpid()));
    chaos::load_options lo;
    lo.window = o.window;
    lo.rate = o.rate;
    chaos::harness h(p.clients, lo, rng());
    h.open_server(srv.port());
    if (!wait_for([&] { return h.all_connected_and_synced(); }, milliseconds(20000))) {
        const auto t = h.totals();
        throw std::runtime_error(fmt::format(
            "clients did not connect and sync with the fresh server ({} connections, {} failed "
            "attempts)\n{}",
            t.connects, t.connect_failures, srv.log_tail(3000)));
    }
    std::uniform_int_distribution<int> load_ms(o.min_load_ms, o.max_load_ms);
    unacked_map unacked;
    for (int round = 1; round <= o.rounds; ++round) {
        if (clock_type::now() >= deadline) {
            rep.add(fmt::format("only {} of {} rounds ran within --max-seconds {}", round - 1,
                                o.rounds, o.max_seconds));
            sum.bounded_out = true;
            break;
        }
        h.set_load(true);
        sleep_ms(load_ms(rng));
        const auto killed_at = clock_type::now();
        srv.kill9();
        h.close_server();
        if (!wait_for([&] { return h.all_disconnected(); }, milliseconds(15000))) {
            rep.add(fmt::format("round {}: clients still connected 15 s after SIGKILL", round));
        }
        milliseconds ready{0};
        try {
            ready = srv.start(milliseconds(30000));
        } catch (const std::exception& e) {
            rep.add(fmt::format("round {}: restart failed: {}", round, e.what()));
            return sum;
        }
        sum.restart_ms.v.push_back(static_cast<double>(ready.count()));
        sum.downtime_ms.v.push_back(ms_since(killed_at));
        http_client check("127.0.0.1", srv.port());
        rep.add_all(h.take_violations());
        if (round % o.verify_every == 0 || round == o.rounds) {
            const auto acked = h.acked();
            std::size_t n = 0;
            for (const auto& [c, m] : acked) {
                n += m.size();
            }
            const auto before = rep.violations.size();
            verify_store(check, p, acked, false, rep, fmt::format("round {}", round), &unacked);
            const auto t = h.totals();
            fmt::print(
                "round {:>3}: restart {:>4} ms, acked {:>6}, resent after crash {:>4}, "
                "stored before their ack was lost {:>3}, verified {} acked messages{}\n",
                round, ready.count(), t.acked, t.resent_after_crash, unacked.size(), n,
                rep.violations.size() > before ? "  FAILED" : "");
            std::fflush(stdout);
        }
        sum.rounds = round;
        h.open_server(srv.port());
        if (!rep.violations.empty()) {
            break;
        }
    }
    http_client final_http("127.0.0.1", srv.port());
    settle_and_verify_all(h, final_http, p, rep, "after the kill rounds", unacked);
    sum.totals = h.totals();
    sum.stored_unacked = unacked.size();
    for (const auto& [c, m] : h.acked()) {
        sum.stored += m.size();
    }
    h.stop();
    if (!srv.stop(milliseconds(15000))) {
        rep.add("the server did not stop on SIGTERM within 15 s after the kill rounds");
    }
    return sum;
}

// ---------------------------------------------------------------------------------------------
// Full disk

struct capped_dir {
    std::string path;
    std::string how;  // "tmpfs", "loop-mounted ext4 image" or empty when none could be made
    std::string image;
    bool mounted = false;
    bool tmpfs = false;

    // Space returns the way an operator would give it: the volume grows (a tmpfs is remounted
    // 8 times larger). RocksDB clears a "no space" error only once the free space exceeds its
    // largest write buffer (64 MiB with monochat's settings), so deleting the filler alone does
    // not bring a 64 MiB filesystem back.
    bool grow(int mb) {
        const std::string size = fmt::format("size={}m", mb);
        return tmpfs && ::mount("tmpfs", path.c_str(), "tmpfs", MS_REMOUNT, size.c_str()) == 0;
    }

    ~capped_dir() {
        if (mounted) {
            ::umount2(path.c_str(), MNT_DETACH);
        }
        if (!image.empty()) {
            ::unlink(image.c_str());
        }
    }
};

int run(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

void make_capped_dir(capped_dir& d, const std::string& work, int mb) {
    d.path = work + "/capped";
    std::filesystem::create_directories(d.path);
    const std::string size = fmt::format("size={}m", mb);
    if (::mount("tmpfs", d.path.c_str(), "tmpfs", 0, size.c_str()) == 0) {
        d.mounted = true;
        d.tmpfs = true;
        d.how = fmt::format("tmpfs of {} MiB", mb);
        return;
    }
    d.image = work + "/capped.img";
    if (run(fmt::format("truncate -s {}M {} && mkfs.ext4 -q -F {}", mb, d.image, d.image)) == 0 &&
        run(fmt::format("mount -o loop {} {}", d.image, d.path)) == 0) {
        d.mounted = true;
        d.how = fmt::format("loop-mounted ext4 image of {} MiB", mb);
        return;
    }
    ::unlink(d.image.c_str());
    d.image.clear();
}

// Appends to `path` until the filesystem refuses; returns the bytes written by this call.
std::uint64_t fill(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) {
        return 0;
    }
    std::uint64_t total = 0;
    std::vector<char> chunk(1 << 20, 'x');
    for (std::size_t size = chunk.size(); size >= 512; size /= 4) {
        for (;;) {
            const ssize_t n = ::write(fd, chunk.data(), size);
            if (n <= 0) {
                break;
            }
            total += static_cast<std::uint64_t>(n);
        }
    }
    ::fsync(fd);
    ::close(fd);
    return total;
}

struct disk_summary {
    std::string how;
    bool ran = false;
    std::uint64_t acked_before = 0;
    std::uint64_t unavailable = 0;
    std::uint64_t acked_while_full = 0;
    double first_refusal_ms = 0;
    double recovery_ms = 0;
    std::uint64_t acked_total = 0;
};

disk_summary full_disk_round(const options& o, const std::string& work, std::mt19937_64& rng,
                             report& rep) {
    disk_summary sum;
    capped_dir cap;
    make_capped_dir(cap, work, o.disk_mb);
    if (!cap.mounted) {
        fmt::print(
            "full-disk round SKIPPED: neither a tmpfs nor a loop device could be mounted "
            "here (needs CAP_SYS_ADMIN); no size-capped data dir is available\n");
        return sum;
    }
    sum.how = cap.how;
    sum.ran = true;
    const std::string work2 = work + "/disk-run";
    std::filesystem::create_directories(work2);
    chaos::server srv(o.binary, work2, cap.path + "/data", server_config());
    srv.start(milliseconds(30000));
    http_client http("127.0.0.1", srv.port());
    const auto p = create_population(http, 4, fmt::format("disk{}_", getpid()));
    chaos::load_options lo;
    lo.window = 2;
    lo.rate = 200;
    chaos::harness h(p.clients, lo, rng());
    h.open_server(srv.port());
    if (!wait_for([&] { return h.all_connected_and_synced(); }, milliseconds(20000))) {
        throw std::runtime_error("clients did not connect to the full-disk server");
    }
    h.set_load(true);
    sleep_ms(1000);
    sum.acked_before = h.totals().acked;
    if (sum.acked_before == 0) {
        rep.add("full disk: nothing was acknowledged before the disk was filled");
    }

    const std::string filler = cap.path + "/filler";
    const auto filled_at = clock_type::now();
    std::uint64_t filled = fill(filler);
    const auto t_full = h.totals();
    // Sends must start failing with `unavailable`; space freed by the server (a compaction, a
    // deleted WAL) is taken again at once.
    bool refused = false;
    while (ms_since(filled_at) < 20000) {
        filled += fill(filler);
        if (h.totals().unavailable > t_full.unavailable + 20) {
            refused = true;
            break;
        }
        if (!srv.alive()) {
            break;
        }
        sleep_ms(20);
    }
    sum.first_refusal_ms = ms_since(filled_at);
    if (!srv.alive()) {
        rep.add("full disk: the server died on the full disk:\n" + srv.log_tail(2000));
        return sum;
    }
    if (!refused) {
        rep.add(
            fmt::format("full disk: no send failed with unavailable within 20 s of filling "
                        "the disk ({} acks meanwhile)",
                        h.totals().acked - t_full.acked));
    }
    // Stay full for two seconds under load.
    const auto hold = clock_type::now();
    while (ms_since(hold) < 2000) {
        filled += fill(filler);
        sleep_ms(20);
    }
    const auto t_freed = h.totals();
    sum.unavailable = t_freed.unavailable;
    sum.acked_while_full = t_freed.acked - t_full.acked;
    fmt::print(
        "full disk ({}): filled {} MiB; {} sends refused with unavailable, {} acked while "
        "full (checked below)\n",
        cap.how, filled >> 20, sum.unavailable, sum.acked_while_full);
    ::unlink(filler.c_str());
    const bool grown = cap.grow(o.disk_mb * 8);
    fmt::print("full disk: space returned (filler deleted{})\n",
               grown ? fmt::format(", filesystem grown to {} MiB", o.disk_mb * 8) : "");
    const auto freed_at = clock_type::now();
    if (!wait_for([&] { return h.totals().acked >= t_freed.acked + 50; }, milliseconds(30000))) {
        rep.add(
            fmt::format("full disk: sends did not succeed again within 30 s of freeing space "
                        "({} acks since)\n{}",
                        h.totals().acked - t_freed.acked, srv.log_tail(2000)));
        return sum;
    }
    sum.recovery_ms = ms_since(freed_at);
    sleep_ms(500);
    // Everything acknowledged, before, during and after, must survive a crash.
    h.set_load(false);
    wait_for([&] { return h.outstanding() == 0; }, milliseconds(30000));
    srv.kill9();
    h.close_server();
    wait_for([&] { return h.all_disconnected(); }, milliseconds(15000));
    try {
        srv.start(milliseconds(30000));
    } catch (const std::exception& e) {
        rep.add(fmt::format("full disk: restart after the full disk failed: {}", e.what()));
        return sum;
    }
    h.open_server(srv.port());
    http_client check("127.0.0.1", srv.port());
    settle_and_verify_all(h, check, p, rep, "after the full disk", unacked_map{});
    sum.acked_total = h.totals().acked;
    h.stop();
    srv.stop(milliseconds(15000));
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines reach a log file at once
    const auto started = clock_type::now();
    const auto deadline = started + std::chrono::seconds(o.max_seconds);
    std::mt19937_64 rng(o.seed);
    fmt::print(
        "monochat-chaos: seed {} (rerun with --seed {}), {} rounds, {} clients, window {}, "
        "rate {}/s, load {}..{} ms per round\n",
        o.seed, o.seed, o.rounds, o.clients, o.window, o.rate, o.min_load_ms, o.max_load_ms);
    std::fflush(stdout);

    std::string work = o.work_dir;
    bool own_work = false;
    if (work.empty()) {
        std::string tmpl =
            (std::filesystem::temp_directory_path() / "monochat-chaos-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            fmt::print(stderr, "monochat-chaos: cannot create a work dir\n");
            return 3;
        }
        work = tmpl;
        own_work = true;
    } else {
        std::filesystem::create_directories(work);
    }
    fmt::print("work dir {}\n", work);

    report rep;
    kill_summary ks;
    disk_summary ds;
    int status = 0;
    try {
        ks = kill_rounds(o, work, rng, rep, deadline);
        if (o.full_disk) {
            ds = full_disk_round(o, work, rng, rep);
        }
    } catch (const std::exception& e) {
        fmt::print(stderr, "monochat-chaos: could not run: {}\n", e.what());
        status = 3;
    }

    const double seconds = ms_since(started) / 1000;
    fmt::print("\n== monochat-chaos summary (seed {}) ==\n", o.seed);
    fmt::print("kill rounds:         {} of {}{}\n", ks.rounds, o.rounds,
               ks.bounded_out ? " (stopped by --max-seconds)" : "");
    fmt::print("messages sent:       {}\n", ks.totals.sent);
    fmt::print("messages acked:      {} (all verified in the stored log: {})\n", ks.totals.acked,
               ks.stored);
    fmt::print("in flight at a kill: {} (resent with the same client_msg_id; {} acked on resend)\n",
               ks.totals.resent_after_crash, ks.totals.resent_acked);
    fmt::print(
        "stored, ack lost:    {} (in flight at a kill, already stored; the resend got "
        "the same seq)\n",
        ks.stored_unacked);
    fmt::print("resends in all:      {}\n", ks.totals.resent);
    fmt::print("connections:         {} ({} failed attempts while the server was down)\n",
               ks.totals.connects, ks.totals.connect_failures);
    fmt::print("pushes / sync reads: {} / {}\n", ks.totals.pushes, ks.totals.synced);
    fmt::print("restart (spawn to ready): median {:.0f} ms, p90 {:.0f} ms, max {:.0f} ms\n",
               ks.restart_ms.at(0.5), ks.restart_ms.at(0.9), ks.restart_ms.at(1.0));
    fmt::print("downtime (SIGKILL to ready): median {:.0f} ms, max {:.0f} ms\n",
               ks.downtime_ms.at(0.5), ks.downtime_ms.at(1.0));
    if (!o.full_disk) {
        fmt::print("full disk:           not run (--no-full-disk)\n");
    } else if (!ds.ran) {
        fmt::print("full disk:           SKIPPED, no size-capped filesystem could be mounted\n");
    } else {
        fmt::print(
            "full disk ({}): {} acked before, {} refused with unavailable, {} acked while "
            "full, first refusals after {:.0f} ms, recovered {:.0f} ms after space "
            "returned, {} acked in all and verified after a kill\n",
            ds.how, ds.acked_before, ds.unavailable, ds.acked_while_full, ds.first_refusal_ms,
            ds.recovery_ms, ds.acked_total);
    }
    fmt::print("time:                {:.1f} s\n", seconds);
    fmt::print("violations:          {}\n", rep.violations.size());
    for (std::size_t i = 0; i < rep.violations.size() && i < 20; ++i) {
        fmt::print("  {}\n", rep.violations[i]);
    }
    if (own_work && !o.keep && rep.violations.empty() && status == 0) {
        std::error_code ec;
        std::filesystem::remove_all(work, ec);
    } else {
        fmt::print("work dir kept: {}\n", work);
    }
    if (status != 0) {
        return status;
    }
    return rep.violations.empty() ? 0 : 1;
}
