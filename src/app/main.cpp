// monochat: parse arguments, load the configuration, run. Everything else is in application.cpp.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <monochat/infra/config.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/application.hpp"
#include "app/file_modes.hpp"
#include "app/user_commands.hpp"

#ifdef MONOCHAT_MIMALLOC
#include <mimalloc.h>
#endif

#ifndef MONOCHAT_VERSION
#define MONOCHAT_VERSION "unknown"
#endif
#ifndef MONOCHAT_COMMIT
#define MONOCHAT_COMMIT "unknown"
#endif

namespace {

constexpr const char* usage =
    "usage: monochat [--config FILE] [--print-config] [--config-reference] [--version]\n"
    "       monochat backup DIR [--config FILE]\n"
    "       monochat restore DIR [--config FILE]\n"
    "       monochat seed --users N [--group-members N] [--tokens N] [--prefix P]\n"
    "                     [--password PW] [--group-name NAME] [--private] [--out FILE]\n"
    "                     [--config FILE]\n"
    "       monochat user add NAME [--config FILE]   (password on standard input)\n"
    "       monochat user reset-password NAME [--config FILE]\n"
    "\n"
    "Runs the monochat chat server. Without --config the embedded defaults apply\n"
    "(127.0.0.1:8080, data in ./data). Environment variables MONOCHAT_<SECTION>_<KEY>\n"
    "override the file, e.g. MONOCHAT_SERVER_PORT=9000. See docs/configuration.md.\n";

// What serves malloc in this binary: mimalloc (with its version) or the C library's.
std::string allocator_name() {
#ifdef MONOCHAT_MIMALLOC
    const int v = mi_version();  // e.g. 209 for 2.0.9
    return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
           std::to_string(v % 10);
#else
    return "libc";
#endif
}

}  // namespace

int main(int argc, char** argv) {
    // mimalloc's decommit delay stays at its default, 25 ms (MIMALLOC_DECOMMIT_DELAY in the
    // environment sets it). A 1 s delay cut the madvise calls of a steady load, but mimalloc
    // purges only when a thread allocates or frees again: after a burst of connections the I/O
    // threads go idle still holding the pages, and the RSS of an idle connection at 19,000
    // rose from 2.9 KB to 3.1 KB (docs/benchmarks.md).

    // Before any file is made: data, logs and backups are readable by their owner only.
    monochat::app::private_umask();
    std::optional<std::string> config_path;
    bool print_config = false;
    std::vector<std::string> positional;
    // `seed` takes options of its own: everything after it but --config is its.
    std::vector<std::string> seed_args;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool seeding = !positional.empty() && positional[0] == "seed";
        if (arg == "--config" || arg == "-c") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "monochat: --config needs a file\n%s", usage);
                return 2;
            }
            config_path = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            config_path = arg.substr(std::strlen("--config="));
        } else if (seeding) {
            seed_args.push_back(arg);
        } else if (arg == "--print-config") {
            print_config = true;
        } else if (arg == "--config-reference") {
            // The table of every key, as docs/configuration.md shows it.
            std::printf("| key | environment | type | default | live | meaning |\n");
            std::printf("|---|---|---|---|---|---|\n");
            for (const auto& k : monochat::infra::describe_config()) {
                std::printf("| `%s` | `%s` | %s | `%s` | %s | %s |\n", k.path.c_str(), k.env.c_str(),
                            k.type.c_str(), k.default_value.c_str(), k.live ? "yes" : "no",
                            k.doc.c_str());
            }
            return 0;
        } else if (arg == "--version" || arg == "-V") {
            std::printf("monochat %s (commit %s, allocator %s)\n", MONOCHAT_VERSION,
                        MONOCHAT_COMMIT, allocator_name().c_str());
            return 0;
        } else if (arg == "--help" || arg == "-h") {
            std::printf("%s", usage);
            return 0;
        } else if (!arg.empty() && arg[0] == '-') {
            std::fprintf(stderr, "monochat: unknown option %s\n%s", arg.c_str(), usage);
            return 2;
        } else {
            positional.push_back(arg);
        }
    }

    auto cfg = monochat::infra::load_config(config_path, monochat::infra::monochat_environment());
    if (!cfg) {
        std::fprintf(stderr, "monochat: invalid configuration: %s\n", cfg.error().message.c_str());
        return 1;
    }
    if (print_config) {
        std::printf("%s\n", monochat::infra::to_json(*cfg).c_str());
        return 0;
    }
    if (positional.empty()) {
        return monochat::app::run(*cfg, config_path);
    }
    if (positional.size() == 2 && positional[0] == "backup") {
        return monochat::app::backup(*cfg, positional[1]);
    }
    if (positional.size() == 1 && positional[0] == "seed") {
        return monochat::app::seed(*cfg, seed_args);
    }
    if (positional.size() == 2 && positional[0] == "restore") {
        return monochat::app::restore(*cfg, positional[1]);
    }
    if (positional[0] == "user") {
        return monochat::app::user_command(
            *cfg, std::vector<std::string>(positional.begin() + 1, positional.end()));
    }
    std::fprintf(stderr, "monochat: unexpected arguments\n%s", usage);
    return 2;
}
