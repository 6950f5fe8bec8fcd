#pragma once
// The composition root: the only code that names concrete classes. Builds the layers in
// dependency order (infra, storage, bus, logic, task, gateway), runs them, and stops them in
// reverse order on SIGTERM/SIGINT.

#include <monochat/infra/config.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::app {

// Runs the server until a stop signal. Returns the process exit code.
int run(const infra::config& cfg, std::optional<std::string> config_path);

// `monochat backup DIR`: a consistent copy of the data directory of `cfg` into DIR, taken
// while no server uses it, or through the running server's admin API (see docs/operations.md).
int backup(const infra::config& cfg, const std::string& dir);
// `monochat restore DIR`: copies a backup into the (empty or missing) data directory.
int restore(const infra::config& cfg, const std::string& dir);
// `monochat seed --users N ...`: accounts, their tokens and one large group written straight
// into the stopped server's data directory (logic/seeding.hpp), for benchmarks and scale tests.
// Prints a JSON summary; `--out FILE` gets one line `user_id username token` per token.
int seed(const infra::config& cfg, const std::vector<std::string>& args);

}  // namespace monochat::app
