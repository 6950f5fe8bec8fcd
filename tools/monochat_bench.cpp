// monochat-bench: the load generator of issue 8. It creates its users, friendships and groups
// through monochat's HTTP API, opens WebSocket connections from source addresses spread over
// 127.0.0.0/8 on several io threads, runs one workload (fanout, pairs, idle, reconnect,
// search) and prints its figures as a table and as one JSON line: delivered messages per
// second, ack and delivery latency, lost and duplicated messages, the server's CPU per
// delivered message and its peak RSS (from /proc/<--server-pid>). The figures and workloads
// match the peers' Node harness (../shared/bench-peers) so that the numbers compare.
//
//   monochat-bench fanout --members 1000 --senders 10 --window 20 --server-pid PID
//   monochat-bench fanout --rate 50 --messages 500 --server-pid PID
//   monochat-bench pairs --pairs 1000 --duration 10 --server-pid PID
//   monochat-bench idle --connections 19000 --duration 10 --server-pid PID
//   monochat-bench reconnect --connections 10000 --server-pid PID
//   monochat-bench search --messages 100000 --server-pid PID
//   monochat-bench group-100k --seeded FILE --group-id G --rate 10 --duration 30 --server-pid PID
//
// Every run stops by itself (--duration, --messages, --drain, --max-seconds) and talks to
// loopback only. Exit status: 0 when nothing was lost or duplicated and every client
// connected, 1 otherwise, 2 on bad arguments, 3 when the run could not be carried out.

#include <fmt/format.h>

#include <exception>

#include "bench/options.hpp"
#include "bench/proc.hpp"
#include "bench/workloads.hpp"

int main(int argc, char** argv) {
    using namespace monochat::bench;
    const options o = parse_options(argc, argv);
    const auto nofile = raise_nofile_limit();
    if (o.server_pid > 0 && !process_alive(o.server_pid)) {
        fmt::print(stderr, "monochat-bench: --server-pid {} is not running\n", o.server_pid);
        return 3;
    }
    const std::size_t sockets = o.kind == workload::pairs    ? 2 * o.pairs
                                : o.kind == workload::fanout ? o.members
                                : o.kind == workload::search ? o.senders
                                : o.kind == workload::group100k
                                    ? o.online + o.offline_syncs + o.churners
                                                             : o.connections;
    if (sockets + o.http_concurrency + 64 > nofile) {
        fmt::print(stderr,
                   "monochat-bench: {} connections need more descriptors than the limit of {}\n",
                   sockets, nofile);
        return 3;
    }
    try {
        report r;
        switch (o.kind) {
            case workload::fanout:
                r = run_fanout(o);
                break;
            case workload::pairs:
                r = run_pairs(o);
                break;
            case workload::idle:
                r = run_idle(o);
                break;
            case workload::reconnect:
                r = run_reconnect(o);
                break;
            case workload::search:
                r = run_search(o);
                break;
            case workload::group100k:
                r = run_group100k(o);
                break;
        }
        r.print(o.json_only, o.out);
        return r.ok ? 0 : 1;
    } catch (const std::exception& e) {
        fmt::print(stderr, "monochat-bench: {}\n", e.what());
        return 3;
    }
}
