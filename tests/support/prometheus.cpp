#include "support/prometheus.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace monochat::test {
namespace {

bool valid_metric_name(const std::string& n) {
    if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_' || n[0] == ':')) {
        return false;
    }
    for (char c : n) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) {
            return false;
        }
    }
    return true;
}

double parse_value(const std::string& v, const std::string& line) {
    if (v == "+Inf") {
        return INFINITY;
    }
    if (v == "-Inf") {
        return -INFINITY;
    }
    if (v == "NaN") {
        return NAN;
    }
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || end != v.c_str() + v.size()) {
        throw std::runtime_error("bad sample value in: " + line);
    }
    return d;
}

// The family a sample belongs to: histogram series end in _bucket, _sum or _count.
std::string family_of(const std::string& name, const std::map<std::string, prom_family>& fams) {
    if (fams.count(name) != 0) {
        return name;
    }
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s = suffix;
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
            const auto base = name.substr(0, name.size() - s.size());
            if (fams.count(base) != 0) {
                return base;
            }
        }
    }
    return {};
}

}  // namespace

double prom_document::value(const std::string& name,
                            const std::map<std::string, std::string>& match) const {
    double sum = 0;
    for (const auto& s : samples) {
        if (s.name != name) {
            continue;
        }
        bool ok = true;
        for (const auto& [k, v] : match) {
            auto it = s.labels.find(k);
            ok = ok && it != s.labels.end() && it->second == v;
        }
        if (ok) {
            sum += s.value;
        }
    }
    return sum;
}

bool prom_document::has(const std::string& name) const {
    for (const auto& s : samples) {
        if (s.name == name) {
            return true;
        }
    }
    return false;
}

prom_document parse_prometheus(const std::string& text) {
    prom_document doc;
    std::size_t pos = 0;
    if (!text.empty() && text.back() != '\n') {
        throw std::runtime_error("exposition must end with a newline");
    }
    while (pos < text.size()) {
        const auto eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty()) {
            continue;
        }
        if (line[0] == '#') {
            if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
                const bool help = line[2] == 'H';
                const auto rest = line.substr(7);
                const auto sp = rest.find(' ');
                const auto name = rest.substr(0, sp);
                if (!valid_metric_name(name) || sp == std::string::npos) {
                    throw std::runtime_error("bad comment line: " + line);
                }
                auto& fam = doc.families[name];
                if (help) {
                    fam.help = rest.substr(sp + 1);
                } else {
                    const auto type = rest.substr(sp + 1);
                    if (type != "counter" && type != "gauge" && type != "histogram" &&
                        type != "summary" && type != "untyped") {
                        throw std::runtime_error("bad type: " + line);
                    }
                    if (!fam.type.empty()) {
                        throw std::runtime_error("second TYPE for " + name);
                    }
                    fam.type = type;
                }
            }
            continue;
        }
        prom_sample s;
        std::size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ') {
            ++i;
        }
        s.name = line.substr(0, i);
        if (!valid_metric_name(s.name)) {
            throw std::runtime_error("bad metric name: " + line);
        }
        if (i < line.size() && line[i] == '{') {
            ++i;
            while (i < line.size() && line[i] != '}') {
                const auto eq = line.find('=', i);
                if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
                    throw std::runtime_error("bad label: " + line);
                }
                const auto key = line.substr(i, eq - i);
                std::string val;
                std::size_t j = eq + 2;
                for (; j < line.size() && line[j] != '"'; ++j) {
                    if (line[j] == '\\' && j + 1 < line.size()) {
                        ++j;
                        val += line[j] == 'n' ? '\n' : line[j];
                    } else {
                        val += line[j];
                    }
                }
                if (j >= line.size()) {
                    throw std::runtime_error("unterminated label value: " + line);
                }
                if (!valid_metric_name(key) || !s.labels.emplace(key, val).second) {
                    throw std::runtime_error("bad or repeated label name: " + line);
                }
                i = j + 1;
                if (i < line.size() && line[i] == ',') {
                    ++i;
                }
            }
            if (i >= line.size()) {
                throw std::runtime_error("unterminated labels: " + line);
            }
            ++i;
        }
        if (i >= line.size() || line[i] != ' ') {
            throw std::runtime_error("missing value: " + line);
        }
        auto value = line.substr(i + 1);
        if (const auto sp = value.find(' '); sp != std::string::npos) {
            value = value.substr(0, sp);  // a timestamp may follow
        }
        s.value = parse_value(value, line);
        const auto fam = family_of(s.name, doc.families);
        if (fam.empty()) {
            throw std::runtime_error("sample without TYPE: " + line);
        }
        const auto& type = doc.families[fam].type;
        if (fam != s.name && type != "histogram" && type != "summary") {
            throw std::runtime_error("suffixed sample of a non-histogram: " + line);
        }
        if (type == "histogram" && s.name == fam + "_bucket" && s.labels.count("le") == 0) {
            throw std::runtime_error("bucket without le: " + line);
        }
        if (type == "counter" && s.value < 0) {
            throw std::runtime_error("negative counter: " + line);
        }
        doc.samples.push_back(std::move(s));
    }
    return doc;
}

}  // namespace monochat::test
