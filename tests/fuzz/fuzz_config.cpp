// libFuzzer target: configuration loading (infra/config.cpp) from a JSON text, the file an
// operator writes (comments allowed).
//
// Beyond "no crash": a text parse_config accepts is printed with to_json, and that output must
// parse again to the same configuration (what --print-config promises).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <monochat/infra/config.hpp>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace monochat::infra;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    static const environment no_env;
    auto cfg = parse_config(text, no_env);
    if (!cfg) {
        return 0;
    }
    const std::string printed = to_json(*cfg);
    auto again = parse_config(printed, no_env);
    if (!again) {
        std::fprintf(stderr, "fuzz_config: printed config does not load: %s\n%s\n",
                     again.error().message.c_str(), printed.c_str());
        std::abort();
    }
    if (to_json(*again) != printed) {
        std::fprintf(stderr, "fuzz_config: printing is not stable:\n%s\n---\n%s\n", printed.c_str(),
                     to_json(*again).c_str());
        std::abort();
    }
    return 0;
}
