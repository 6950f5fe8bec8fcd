#pragma once
// run_monochat with a standard input (server_process.hpp's runs get /dev/null): for commands
// that read a secret from stdin, such as `monochat user add`.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "support/server_process.hpp"

namespace monochat::test {

run_result run_monochat_with_input(const std::vector<std::string>& args,
                                   const std::string& stdin_text,
                                   const std::map<std::string, std::string>& env = {},
                                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace monochat::test
