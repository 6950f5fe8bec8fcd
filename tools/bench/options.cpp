#include "bench/options.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>
#include <thread>

namespace monochat::bench {

namespace {

constexpr const char* usage_text = R"(monochat-bench: load generator for monochat (issue 8)

usage: monochat-bench WORKLOAD [options]

workloads
  fanout     --members R (1000) in one group, --senders S (10) of them send; every message
             reaches the R-1 other members. --messages 10000 in total, at most --duration s.
  pairs      --pairs P (1000) friend pairs; each client sends to its partner over
             dm:<low>:<high> for --duration s (or --messages in total).
  idle       --connections C (10000) authenticated connections (one guest each) held for
             --duration s; server RSS per connection.
  reconnect  --connections C (10000) clients in groups of --group-size (100) drop at once;
             --missed (10) messages go to each group meanwhile; all reconnect and sync from
             their last seq. Time until all are back and synced.
  search     --senders S (10) store --messages (100000) messages of --words (8) words from a
             --vocab (1000) word vocabulary, then --http-concurrency clients query
             GET /api/v1/search/messages for --duration s.
  group-100k accounts and a group written by `monochat seed ... --out FILE` (--seeded FILE,
             --group-id G): --online N (all but the reserved) members connect, --senders S
             (10) send at --rate R msg/s for --duration s; --churners K (10) offline
             members leave and rejoin at --churn-rate (2) ops/s meanwhile; every
             --readers-every (100)-th receiver sends read and typing frames; then the
             conversation list, `readers`, and --offline-syncs (5) offline members' sync.

server
  --host 127.0.0.1  --port 8080
  --server-pid PID      read the server's CPU (/proc/PID/stat) and RSS (/proc/PID/status)

sending (fanout, pairs, search)
  --messages N          total messages (default: fanout 10000, pairs no limit, search 100000)
  --window W            unfinished sends per sender (20)
  --pace ack|probe      what frees a window slot: the send's ack (default), or the message
                        reaching one probe receiver per io thread (as the peers' harness did)
  --rate R              fixed total rate in messages/s, senders staggered (0 = window only)
  --size B              message text bytes (100)
  --duration S          sending time (10); idle: holding time
  --drain S             after sending, wait until nothing new arrived for S s (5)
  --max-seconds S       bound of the whole run, setup included (120)

connections
  --threads N           io threads (one per core)
  --src-ips N           bind sockets to 127.0.0.2 .. 127.0.0.(N+1) (16)
  --connect-concurrency N   handshakes in flight (1000)
  --http-concurrency N  HTTP requests in flight during setup and search (32)

output
  --label TEXT          name of the run in the JSON line
  --out FILE            append the JSON line to FILE
  --json-only           print only the JSON line
)";

[[noreturn]] void usage(std::string_view problem) {
    if (!problem.empty()) {
        fmt::print(stderr, "monochat-bench: {}\n\n", problem);
    }
    fmt::print(problem.empty() ? stdout : stderr, "{}", usage_text);
    std::exit(problem.empty() ? 0 : 2);
}

double parse_number(std::string_view text, std::string_view flag, double lo, double hi) {
    const std::string s(text);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
        usage(fmt::format("{} must be a number in [{}, {}], not \"{}\"", flag, lo, hi, text));
    }
    return v;
}

std::size_t parse_count(std::string_view text, std::string_view flag, double lo, double hi) {
    const double v = parse_number(text, flag, lo, hi);
    if (v != static_cast<double>(static_cast<std::uint64_t>(v))) {
        usage(fmt::format("{} must be a whole number, not \"{}\"", flag, text));
    }
    return static_cast<std::size_t>(v);
}

}  // namespace

const char* to_string(workload w) {
    switch (w) {
        case workload::fanout:
            return "fanout";
        case workload::pairs:
            return "pairs";
        case workload::idle:
            return "idle";
        case workload::reconnect:
            return "reconnect";
        case workload::search:
            return "search";
        case workload::group100k:
            return "group-100k";
    }
    return "?";
}

options parse_options(int argc, char** argv) {
    options o;
    bool have_workload = false;
    bool have_messages = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            usage({});
        }
        if (!arg.starts_with("--")) {
            if (have_workload) {
                usage(fmt::format("unexpected argument {}", arg));
            }
            have_workload = true;
            if (arg == "fanout") {
                o.kind = workload::fanout;
            } else if (arg == "pairs") {
                o.kind = workload::pairs;
            } else if (arg == "idle") {
                o.kind = workload::idle;
            } else if (arg == "reconnect") {
                o.kind = workload::reconnect;
            } else if (arg == "search") {
                o.kind = workload::search;
            } else if (arg == "group-100k") {
                o.kind = workload::group100k;
            } else {
                usage(fmt::format("unknown workload {}", arg));
            }
            continue;
        }
        auto value = [&]() -> std::string_view {
            if (i + 1 >= argc) {
                usage(fmt::format("{} needs a value", arg));
            }
            return argv[++i];
        };
        if (arg == "--host") {
            o.host = std::string(value());
        } else if (arg == "--port") {
            o.port = static_cast<std::uint16_t>(parse_count(value(), arg, 1, 65535));
        } else if (arg == "--server-pid") {
            o.server_pid = static_cast<int>(parse_count(value(), arg, 1, 1 << 30));
        } else if (arg == "--threads") {
            o.threads = parse_count(value(), arg, 1, 64);
        } else if (arg == "--members") {
            o.members = parse_count(value(), arg, 2, 100000);
        } else if (arg == "--senders") {
            o.senders = parse_count(value(), arg, 1, 10000);
        } else if (arg == "--pairs") {
            o.pairs = parse_count(value(), arg, 1, 50000);
        } else if (arg == "--connections") {
            o.connections = parse_count(value(), arg, 1, 1000000);
        } else if (arg == "--group-size") {
            o.group_size = parse_count(value(), arg, 2, 100000);
        } else if (arg == "--missed") {
            o.missed = parse_count(value(), arg, 0, 1000);
        } else if (arg == "--messages") {
            o.messages = parse_count(value(), arg, 1, 1e10);
            have_messages = true;
        } else if (arg == "--window") {
            o.window = parse_count(value(), arg, 1, 100000);
        } else if (arg == "--pace") {
            const auto v = value();
            if (v == "ack") {
                o.pace = pacing::ack;
            } else if (v == "probe") {
                o.pace = pacing::probe;
            } else {
                usage("--pace is ack or probe");
            }
        } else if (arg == "--rate") {
            o.rate = parse_number(value(), arg, 0, 1e8);
        } else if (arg == "--size") {
            o.size = parse_count(value(), arg, 1, 8000);
        } else if (arg == "--duration") {
            o.duration_s = parse_number(value(), arg, 0.1, 3600);
        } else if (arg == "--drain") {
            o.drain_s = parse_number(value(), arg, 0.1, 600);
        } else if (arg == "--max-seconds") {
            o.max_seconds = parse_number(value(), arg, 1, 7200);
        } else if (arg == "--vocab") {
            o.vocab = parse_count(value(), arg, 1, 1000000);
        } else if (arg == "--words") {
            o.words = parse_count(value(), arg, 1, 100);
        } else if (arg == "--src-ips") {
            o.src_ips = parse_count(value(), arg, 1, 250);
        } else if (arg == "--connect-concurrency") {
            o.connect_concurrency = parse_count(value(), arg, 1, 1000000);
        } else if (arg == "--http-concurrency") {
            o.http_concurrency = parse_count(value(), arg, 1, 1024);
        } else if (arg == "--seeded") {
            o.seeded = std::string(value());
        } else if (arg == "--group-id") {
            o.group_id = std::string(value());
        } else if (arg == "--online") {
            o.online = parse_count(value(), arg, 1, 1000000);
        } else if (arg == "--churners") {
            o.churners = parse_count(value(), arg, 0, 10000);
        } else if (arg == "--churn-rate") {
            o.churn_rate = parse_number(value(), arg, 0, 10000);
        } else if (arg == "--offline-syncs") {
            o.offline_syncs = parse_count(value(), arg, 0, 10000);
        } else if (arg == "--readers-every") {
            o.readers_every = parse_count(value(), arg, 0, 1000000);
        } else if (arg == "--label") {
            o.label = std::string(value());
        } else if (arg == "--out") {
            o.out = std::string(value());
        } else if (arg == "--json-only") {
            o.json_only = true;
        } else {
            usage(fmt::format("unknown option {}", arg));
        }
    }
    if (!have_workload) {
        usage("name a workload: fanout, pairs, idle, reconnect, search or group-100k");
    }
    if (!have_messages) {
        // pairs: bounded by the duration; the cap only keeps the loop finite
        o.messages = o.kind == workload::fanout   ? 10000
                     : o.kind == workload::search ? 100000
                                                  : 1'000'000'000;
    }
    if (o.kind == workload::group100k && (o.seeded.empty() || o.group_id.empty())) {
        usage("group-100k needs --seeded FILE and --group-id G (from monochat seed)");
    }
    if (o.kind == workload::fanout && o.senders > o.members) {
        usage("--senders cannot exceed --members");
    }
    if (o.threads == 0) {
        o.threads = std::max(1U, std::thread::hardware_concurrency());
    }
    if (o.label.empty()) {
        o.label = to_string(o.kind);
    }
    return o;
}

}  // namespace monochat::bench
