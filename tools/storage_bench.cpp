// monochat-storage-bench: appends per second of the RocksDB message log and their latency, for
// several numbers of concurrent writers. A writer keeps exactly one append outstanding
// (append_async; the next one is issued from the completion), so with N writers the group
// commit can gather at most N appends per WAL sync. Each writer count runs on a fresh database
// for a bounded time; the first half second is a warm-up and is not counted.
//
//   monochat-storage-bench [--seconds 5] [--writers 1,64,1024] [--sync always|none]
//                          [--conversations 64] [--body-bytes 64] [--max-batch 1024]
//                          [--dir /tmp] [--keep] [--json-only] [--reactions N]
//
// Prints a table and one JSON line with the same figures.
//
// --reactions N measures instead what one reaction costs as its target fills up (issue 17):
// N users react to one message, one append at a time, then reaction N+1 and the removal of the
// first reactor (which moves the eleventh up) are timed. The cost must not grow with N.
// --legacy-reactions runs the same with the rules before v1.1 (every reaction re-parses and
// rewrites the target's whole reaction state), for the before/after figures.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace monochat;
using steady = std::chrono::steady_clock;

struct bench_options {
    double seconds = 5;
    std::vector<std::size_t> writers = {1, 64, 1024};
    storage::sync_mode sync = storage::sync_mode::always;
    std::size_t conversations = 64;
    std::size_t body_bytes = 64;
    std::size_t max_batch = 1024;
    fs::path dir = fs::temp_directory_path();
    bool json_only = false;
    // Leave the database in place (its path is printed): a fixture for measuring a restart
    // over many stored messages (docs/benchmarks.md).
    bool keep = false;
    // 0: the append benchmark; otherwise the reaction benchmark with this many reactions.
    std::size_t reactions = 0;
    bool legacy_reactions = false;
};

struct run_result {
    std::size_t writers = 0;
    std::uint64_t appends = 0;
    double seconds = 0;
    double appends_per_s = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    double avg_batch = 0;
};

[[noreturn]] void usage(std::string_view problem) {
    fmt::print(stderr,
               "{}\nusage: monochat-storage-bench [--seconds S] [--writers 1,64,1024] "
               "[--sync always|none] [--conversations N] [--body-bytes N] [--max-batch N] "
               "[--dir DIR] [--keep] [--json-only] [--reactions N] [--legacy-reactions]\n",
               problem);
    std::exit(2);
}

std::size_t parse_size(std::string_view text, std::string_view flag) {
    char* end = nullptr;
    const std::string s(text);
    const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v == 0) {
        usage(fmt::format("{}: \"{}\" is not a positive number", flag, text));
    }
    return static_cast<std::size_t>(v);
}

bench_options parse(int argc, char** argv) {
    bench_options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) {
                usage(fmt::format("{} needs a value", arg));
            }
            return argv[++i];
        };
        if (arg == "--seconds") {
            const std::string v(value());
            o.seconds = std::strtod(v.c_str(), nullptr);
            if (o.seconds <= 0 || o.seconds > 3600) {
                usage("--seconds must be in (0, 3600]");
            }
        } else if (arg == "--writers") {
            o.writers.clear();
            std::string_view list = value();
            while (!list.empty()) {
                const auto comma = list.find(',');
                o.writers.push_back(parse_size(list.substr(0, comma), "--writers"));
                list =
                    comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
            }
        } else if (arg == "--sync") {
            const auto v = value();
            if (v == "always") {
                o.sync = storage::sync_mode::always;
            } else if (v == "none") {
                o.sync = storage::sync_mode::none;
            } else {
                usage("--sync is always or none");
            }
        } else if (arg == "--conversations") {
            o.conversations = parse_size(value(), arg);
        } else if (arg == "--body-bytes") {
            o.body_bytes = parse_size(value(), arg);
        } else if (arg == "--max-batch") {
            o.max_batch = parse_size(value(), arg);
        } else if (arg == "--dir") {
            o.dir = std::string(value());
        } else if (arg == "--keep") {
            o.keep = true;
        } else if (arg == "--json-only") {
            o.json_only = true;
        } else if (arg == "--reactions") {
            o.reactions = parse_size(value(), arg);
        } else if (arg == "--legacy-reactions") {
            o.legacy_reactions = true;
        } else {
            usage(fmt::format("unknown argument {}", arg));
        }
    }
    return o;
}

// All writers' completions run on the log's writer thread, so the state below is touched by
// that thread only, except `stop` and `outstanding`, which the main thread reads.
class bench_run {
public:
    bench_run(storage::message_log& log, const bench_options& o, std::size_t writers)
        : log_(log),
          options_(o),
          writers_(writers),
          body_(fmt::format(R"({{"type":"text","text":"{}"}})",
                            std::string(o.body_bytes > 24 ? o.body_bytes - 24 : 1, 'x'))) {
        latencies_us_.reserve(1 << 20);
    }

    run_result run() {
        const auto warmup = std::chrono::milliseconds(500);
        const auto measure = std::chrono::duration_cast<steady::duration>(
            std::chrono::duration<double>(options_.seconds));
        measure_from_ = steady::now() + warmup;
        measure_until_ = measure_from_ + measure;
        outstanding_ = writers_;
        for (std::size_t w = 0; w < writers_; ++w) {
            issue(w);
        }
        std::this_thread::sleep_until(measure_until_);
        stop_ = true;
        std::unique_lock lock(mutex_);
        done_.wait(lock, [&] { return outstanding_ == 0; });

        run_result r;
        r.writers = writers_;
        r.appends = latencies_us_.size();
        r.seconds = std::chrono::duration<double>(measure).count();
        r.appends_per_s = static_cast<double>(r.appends) / r.seconds;
        std::sort(latencies_us_.begin(), latencies_us_.end());
        if (!latencies_us_.empty()) {
            auto at = [&](double q) {
                const auto i =
                    static_cast<std::size_t>(q * static_cast<double>(latencies_us_.size() - 1));
                return static_cast<double>(latencies_us_[i]) / 1000.0;
            };
            r.p50_ms = at(0.50);
            r.p99_ms = at(0.99);
        }
        return r;
    }

    std::uint64_t failures() const { return failures_; }

private:
    void issue(std::size_t writer) {
        storage::append_request req;
        req.conversation_id = fmt::format("bench:{}", writer % options_.conversations);
        req.sender_id = writer + 1;
        const std::uint64_t n = ++sequence_;
        req.client_msg_id = fmt::format("{}-{}", writer, n);
        req.message_id = n;
        req.ts_ms = 0;
        req.body = body_;
        const auto started = steady::now();
        log_.append_async(std::move(req), [this, writer,
                                           started](result<storage::append_result> r) {
            const auto now = steady::now();
            if (!r) {
                ++failures_;
            } else if (started >= measure_from_ && now <= measure_until_) {
                latencies_us_.push_back(static_cast<std::uint32_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(now - started).count()));
            }
            if (stop_) {
                std::lock_guard lock(mutex_);
                if (--outstanding_ == 0) {
                    done_.notify_all();
                }
                return;
            }
            issue(writer);
        });
    }

    storage::message_log& log_;
    const bench_options& options_;
    const std::size_t writers_;
    const std::string body_;
    steady::time_point measure_from_;
    steady::time_point measure_until_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable done_;
    std::size_t outstanding_ = 0;
    // The main thread issues the first append of each writer while completions already issue
    // the next ones on the writer thread.
    std::atomic<std::uint64_t> sequence_{0};
    std::uint64_t failures_ = 0;
    std::vector<std::uint32_t> latencies_us_;
};

// One append, waited for; its latency in microseconds, or -1 when it failed.
double timed_append(storage::message_log& log, storage::append_request req) {
    std::promise<bool> done;
    auto finished = done.get_future();
    const auto started = steady::now();
    log.append_async(std::move(req),
                     [&done](result<storage::append_result> r) { done.set_value(r.has_value()); });
    const bool ok = finished.get();
    const auto us = std::chrono::duration<double, std::micro>(steady::now() - started).count();
    return ok ? us : -1;
}

// The reaction rule before v1.1: the state holds {"reactions": {emoji: [user ids]}}, parsed,
// changed and written back whole on every reaction.
result<std::string> legacy_reaction(const storage::stored_message& target, std::uint64_t user,
                                    bool add) {
    using json = nlohmann::json;
    json state = target.state.empty() ? json::object() : json::parse(target.state, nullptr, false);
    json& users = state["reactions"]["\xF0\x9F\x91\x8D"];
    if (!users.is_array()) {
        users = json::array();
    }
    const std::string me = std::to_string(user);
    const auto it = std::find(users.begin(), users.end(), me);
    if (add && it == users.end()) {
        users.push_back(me);
    } else if (!add && it != users.end()) {
        users.erase(it);
    }
    return state.dump();
}

storage::append_request reaction_request(std::uint64_t user, std::uint64_t n, bool add,
                                         bool legacy) {
    storage::append_request req;
    req.conversation_id = "bench:reactions";
    req.sender_id = user;
    req.client_msg_id = fmt::format("r-{}", n);
    req.message_id = n;
    req.body = R"({"type":"reaction","target_seq":1,"emoji":"\ud83d\udc4d","op":"add"})";
    req.target_seq = 1;
    // What the server's rules do for a reaction: read the target, keep its state.
    req.update_target = [](const storage::stored_message& t) -> result<std::string> {
        return t.state;
    };
    req.reaction = storage::reaction_change{"\xF0\x9F\x91\x8D", add, 20};
    if (legacy) {
        req.reaction.reset();
        req.update_target = [user, add](const storage::stored_message& t) {
            return legacy_reaction(t, user, add);
        };
    }
    return req;
}

struct window {
    double mean_us = 0;
    double p50_us = 0;
    double p99_us = 0;
};

window summarize(std::vector<double> us) {
    window w;
    if (us.empty()) {
        return w;
    }
    std::sort(us.begin(), us.end());
    double sum = 0;
    for (const double v : us) {
        sum += v;
    }
    w.mean_us = sum / static_cast<double>(us.size());
    w.p50_us = us[us.size() / 2];
    w.p99_us = us[static_cast<std::size_t>(0.99 * static_cast<double>(us.size() - 1))];
    return w;
}

int run_reactions(const bench_options& o) {
    const fs::path path = o.dir / fmt::format("monochat-storage-bench-{}-reactions", ::getpid());
    fs::remove_all(path);
    storage::message_log_options lo;
    lo.path = path.string();
    lo.sync = o.sync;
    auto opened = storage::open_rocksdb_message_log(lo);
    if (!opened) {
        fmt::print(stderr, "cannot open {}: {}\n", lo.path, opened.error().message);
        return 1;
    }
    auto& log = **opened;
    storage::append_request text;
    text.conversation_id = "bench:reactions";
    text.sender_id = 1;
    text.client_msg_id = "target";
    text.message_id = 1;
    text.body = R"({"type":"text","text":"react to me"})";
    if (timed_append(log, std::move(text)) < 0) {
        fmt::print(stderr, "the target could not be appended\n");
        return 1;
    }
    const std::size_t n = o.reactions;
    const std::size_t sample = std::min<std::size_t>(1000, n);
    std::vector<double> first;
    std::vector<double> last;
    const auto started = steady::now();
    for (std::size_t i = 1; i <= n; ++i) {
        const double us = timed_append(log, reaction_request(i + 1, i, true, o.legacy_reactions));
        if (us < 0) {
            fmt::print(stderr, "reaction {} failed\n", i);
            return 1;
        }
        if (i <= sample) {
            first.push_back(us);
        }
        if (i > n - sample) {
            last.push_back(us);
        }
    }
    const double total_s = std::chrono::duration<double>(steady::now() - started).count();
    // Reaction n+1 and, to time the refill of the first ten, the first reactor leaving.
    const double next_us =
        timed_append(log, reaction_request(n + 2, n + 1, true, o.legacy_reactions));
    const double remove_us =
        timed_append(log, reaction_request(2, n + 2, false, o.legacy_reactions));
    if (next_us < 0 || remove_us < 0) {
        fmt::print(stderr, "the timed reactions failed\n");
        return 1;
    }
    const window a = summarize(first);
    const window b = summarize(last);
    opened->reset();
    if (!o.keep) {
        fs::remove_all(path);
    }
    const char* sync_name = o.sync == storage::sync_mode::always ? "always" : "none";
    if (!o.json_only) {
        fmt::print("reactions on one message, sync={}, one append at a time{}\n", sync_name,
                   o.legacy_reactions ? ", rules before v1.1" : "");
        fmt::print("{:>28} {:>10} {:>10} {:>10}\n", "", "mean us", "p50 us", "p99 us");
        fmt::print("{:>28} {:>10.1f} {:>10.1f} {:>10.1f}\n", fmt::format("reactions 1..{}", sample),
                   a.mean_us, a.p50_us, a.p99_us);
        fmt::print("{:>28} {:>10.1f} {:>10.1f} {:>10.1f}\n",
                   fmt::format("reactions {}..{}", n - sample + 1, n), b.mean_us, b.p50_us,
                   b.p99_us);
        fmt::print("{:>28} {:>10.1f}\n", fmt::format("reaction {}", n + 1), next_us);
        fmt::print("{:>28} {:>10.1f}\n", "first reactor removed", remove_us);
        fmt::print("{} reactions in {:.2f} s: {:.0f} reactions/s\n", n, total_s,
                   static_cast<double>(n) / total_s);
    }
    fmt::print(R"({{"bench":"storage_reactions","legacy":{},"sync":"{}","reactions":{},)"
               R"("first_mean_us":{:.1f},"first_p50_us":{:.1f},"last_mean_us":{:.1f},)"
               R"("last_p50_us":{:.1f},"next_us":{:.1f},"remove_first_us":{:.1f},)"
               R"("reactions_per_s":{:.0f}}})"
               "\n",
               o.legacy_reactions, sync_name, n, a.mean_us, a.p50_us, b.mean_us, b.p50_us, next_us,
               remove_us, static_cast<double>(n) / total_s);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const bench_options o = parse(argc, argv);
    if (o.reactions > 0) {
        return run_reactions(o);
    }
    std::vector<run_result> results;
    for (const std::size_t writers : o.writers) {
        const fs::path path =
            o.dir / fmt::format("monochat-storage-bench-{}-{}", ::getpid(), writers);
        fs::remove_all(path);
        infra::metrics_registry metrics;
        storage::message_log_options lo;
        lo.path = path.string();
        lo.sync = o.sync;
        lo.max_batch = o.max_batch;
        lo.max_pending = std::max<std::size_t>(lo.max_pending, writers * 2);
        lo.metrics = &metrics;
        auto opened = storage::open_rocksdb_message_log(lo);
        if (!opened) {
            fmt::print(stderr, "cannot open {}: {}\n", lo.path, opened.error().message);
            return 1;
        }
        auto& log = **opened;
        bench_run bench(log, o, writers);
        run_result r = bench.run();
        const auto& batches = metrics.get_histogram("monochat_storage_group_commit_size", "", {});
        r.avg_batch =
            batches.count() == 0 ? 0 : batches.sum() / static_cast<double>(batches.count());
        if (bench.failures() != 0) {
            fmt::print(stderr, "{} appends failed\n", bench.failures());
            return 1;
        }
        opened->reset();
        if (o.keep) {
            fmt::print(stderr, "kept {} ({} messages)\n", path.string(), r.appends);
        } else {
            fs::remove_all(path);
        }
        results.push_back(r);
    }

    const char* sync_name = o.sync == storage::sync_mode::always ? "always" : "none";
    const double base = results.empty() ? 0 : results.front().appends_per_s;
    if (!o.json_only) {
        fmt::print("message log appends, sync={}, {} s per run, {} conversations, {}-byte bodies\n",
                   sync_name, o.seconds, o.conversations, o.body_bytes);
        fmt::print("{:>8} {:>12} {:>10} {:>10} {:>10} {:>9}\n", "writers", "appends/s", "p50 ms",
                   "p99 ms", "avg batch", "speedup");
        for (const auto& r : results) {
            fmt::print("{:>8} {:>12.0f} {:>10.3f} {:>10.3f} {:>10.1f} {:>8.1f}x\n", r.writers,
                       r.appends_per_s, r.p50_ms, r.p99_ms, r.avg_batch,
                       base > 0 ? r.appends_per_s / base : 0);
        }
    }
    std::string json = fmt::format(R"({{"bench":"storage_append","sync":"{}","seconds":{},)"
                                   R"("conversations":{},"body_bytes":{},"results":[)",
                                   sync_name, o.seconds, o.conversations, o.body_bytes);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        json +=
            fmt::format(R"({}{{"writers":{},"appends":{},"appends_per_s":{:.1f},"p50_ms":{:.3f},)"
                        R"("p99_ms":{:.3f},"avg_batch":{:.1f},"speedup":{:.2f}}})",
                        i == 0 ? "" : ",", r.writers, r.appends, r.appends_per_s, r.p50_ms,
                        r.p99_ms, r.avg_batch, base > 0 ? r.appends_per_s / base : 0);
    }
    json += "]}";
    fmt::print("{}\n", json);
    return 0;
}
