#pragma once
// Names the calling thread (Linux: at most 15 bytes, longer names are cut), so that `top -H`,
// perf and /proc/<pid>/task/*/comm tell the server's threads apart: each long-lived thread
// names itself when it starts ("mc-io", "mc-log-writer", "mc-indexer", ...). docs/operations.md
// lists them.

#include <string_view>

namespace monochat::infra {

void name_this_thread(std::string_view name) noexcept;

}  // namespace monochat::infra
