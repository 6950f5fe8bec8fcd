#pragma once
// A strict parser of the Prometheus text exposition format (0.0.4), enough to prove that
// /metrics is well-formed: HELP/TYPE lines, samples with optional labels, numeric values,
// histogram series consistent with their TYPE. Throws std::runtime_error naming the bad line.

#include <map>
#include <string>
#include <vector>

namespace monochat::test {

struct prom_sample {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
};

struct prom_family {
    std::string type;  // counter, gauge, histogram, summary, untyped
    std::string help;
};

struct prom_document {
    std::map<std::string, prom_family> families;
    std::vector<prom_sample> samples;

    // Sum of the samples of `name` whose labels include `match`.
    double value(const std::string& name, const std::map<std::string, std::string>& match = {}) const;
    bool has(const std::string& name) const;
};

prom_document parse_prometheus(const std::string& text);

}  // namespace monochat::test
