#pragma once
// `monochat user ...`: account repairs for a locked-out operator, without a running server's
// API. They open only the SQLite social store, which SQLite lets them share with a running
// server (WAL, a busy timeout), so they work whether or not a server holds the data directory.
// Private to app.

#include <monochat/infra/config.hpp>
#include <string>
#include <vector>

namespace monochat::app {

// `args` follow "user": `add NAME` (the password is the first line of standard input) or
// `reset-password NAME` (prints a reset token for POST /api/v1/auth/reset, valid 24 h, once).
// Returns the process exit code; messages go to stdout and stderr.
int user_command(const infra::config& cfg, const std::vector<std::string>& args);

}  // namespace monochat::app
