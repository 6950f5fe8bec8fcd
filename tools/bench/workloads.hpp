#pragma once
// The five workloads of issue 8 and issue 22's group-100k. Each creates what it needs through
// the HTTP API (group-100k takes accounts seeded by `monochat seed`), runs, and returns its
// figures; each is bounded by --max-seconds.

#include "bench/options.hpp"
#include "bench/report.hpp"

namespace monochat::bench {

report run_fanout(const options& o);
report run_pairs(const options& o);
report run_idle(const options& o);
report run_reconnect(const options& o);
report run_search(const options& o);
report run_group100k(const options& o);

}  // namespace monochat::bench
