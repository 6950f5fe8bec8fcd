#pragma once
// A run's figures, twice: rows of a readable table and one JSON document (printed as one line
// and optionally appended to --out).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace monochat::bench {

struct report {
    std::string title;
    std::vector<std::pair<std::string, std::string>> rows;
    nlohmann::json doc = nlohmann::json::object();
    bool ok = true;  // false: lost or duplicated messages, or failures the figures hide

    void row(std::string name, std::string value) {
        rows.emplace_back(std::move(name), std::move(value));
    }
    void print(bool json_only, const std::string& out_file) const;
};

// Rounding for the JSON document (null when absent).
nlohmann::json round_to(std::optional<double> v, int decimals);
// "1,234,567"
std::string thousands(double v);
// Microseconds as "12.3 ms" (or "-" when absent).
std::string ms(std::optional<double> us);

}  // namespace monochat::bench
