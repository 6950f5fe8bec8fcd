// monochat-storage-bench: appends per second of the RocksDB message log and their latency, for
// several numbers of concurrent writers. A writer keeps exactly one append outstanding
// (append_async; the next one is issued from the completion), so with N writers the group
// commit can gather at most N appends per WAL sync. Each writer count runs on a fresh database
// for a bounded time; the first half second is a warm-up and is not counted.
//
//   monochat-storage-bench [--seconds 5] [--writers 1,64,1024] [--sync always|none]
//                          [--conversations 64] [--body-bytes 64] [--max-batch 1024]
//                          [--dir /tmp] [--keep] [--json-only]
//
// Prints a table and one JSON line with the same figures.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <monochat/infra/metrics.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/message_log_factory.hpp>
#include <mutex>
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
               "[--dir DIR] [--keep] [--json-only]\n",
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

}  // namespace

int main(int argc, char** argv) {
    const bench_options o = parse(argc, argv);
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
