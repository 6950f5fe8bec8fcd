#include "bench/report.hpp"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

namespace monochat::bench {

nlohmann::json round_to(std::optional<double> v, int decimals) {
    if (!v || !std::isfinite(*v)) {
        return nullptr;
    }
    const double f = std::pow(10.0, decimals);
    return std::round(*v * f) / f;
}

std::string thousands(double v) {
    const auto whole = static_cast<long long>(std::llround(v));
    std::string digits = std::to_string(whole < 0 ? -whole : whole);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i != 0 && (digits.size() - i) % 3 == 0) {
            out += ',';
        }
        out += digits[i];
    }
    return whole < 0 ? "-" + out : out;
}

std::string ms(std::optional<double> us) {
    if (!us) {
        return "-";
    }
    const double v = *us / 1000;
    return v < 10 ? fmt::format("{:.2f} ms", v) : fmt::format("{:.1f} ms", v);
}

void report::print(bool json_only, const std::string& out_file) const {
    const std::string line = doc.dump();
    if (!json_only) {
        std::size_t width = 0;
        for (const auto& [k, v] : rows) {
            width = std::max(width, k.size());
        }
        fmt::print("\n{}\n{}\n", title, std::string(title.size(), '='));
        for (const auto& [k, v] : rows) {
            fmt::print("  {:<{}}  {}\n", k, width, v);
        }
        fmt::print("\n");
    }
    fmt::print("{}\n", line);
    std::fflush(stdout);
    if (!out_file.empty()) {
        std::ofstream out(out_file, std::ios::app);
        out << line << '\n';
    }
}

}  // namespace monochat::bench
