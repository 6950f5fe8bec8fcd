#include <monochat/infra/metrics.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace monochat::infra {

namespace detail {

std::size_t metric_stripe() noexcept {
    static std::atomic<std::size_t> next{0};
    thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed) % metric_stripes;
    return mine;
}

void add_double(std::atomic<double>& a, double d) noexcept {
    double cur = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
    }
}

}  // namespace detail

std::uint64_t counter::value() const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : stripes_) {
        n += s.v.load(std::memory_order_relaxed);
    }
    return n;
}

void gauge::set(double v) noexcept {
    stripes_[0].v.store(v, std::memory_order_relaxed);
    for (std::size_t i = 1; i < stripes_.size(); ++i) {
        stripes_[i].v.store(0, std::memory_order_relaxed);
    }
}

double gauge::value() const noexcept {
    double v = 0;
    for (const auto& s : stripes_) {
        v += s.v.load(std::memory_order_relaxed);
    }
    return v;
}

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
    std::sort(bounds_.begin(), bounds_.end());
    for (auto& s : stripes_) {
        s.counts = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
    }
}

void histogram::observe(double v) noexcept {
    auto& s = stripes_[detail::metric_stripe()];
    const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
    s.counts[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
    s.count.fetch_add(1, std::memory_order_relaxed);
    detail::add_double(s.sum, v);
}

std::uint64_t histogram::bucket_count(std::size_t i) const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : stripes_) {
        n += s.counts[i].load(std::memory_order_relaxed);
    }
    return n;
}

std::uint64_t histogram::count() const noexcept {
    std::uint64_t n = 0;
    for (const auto& s : stripes_) {
        n += s.count.load(std::memory_order_relaxed);
    }
    return n;
}

double histogram::sum() const noexcept {
    double v = 0;
    for (const auto& s : stripes_) {
        v += s.sum.load(std::memory_order_relaxed);
    }
    return v;
}

std::vector<double> latency_buckets() {
    return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
            0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
}

namespace {
enum { type_counter = 0, type_gauge = 1, type_histogram = 2 };

std::string escape_label(std::string_view v) {
    std::string out;
    for (char ch : v) {
        if (ch == '\\') {
            out += "\\\\";
        } else if (ch == '"') {
            out += "\\\"";
        } else if (ch == '\n') {
            out += "\\n";
        } else {
            out += ch;
        }
    }
    return out;
}

std::string label_text(const metric_labels& labels, std::string_view extra_key = {},
                       std::string_view extra_value = {}) {
    if (labels.empty() && extra_key.empty()) {
        return {};
    }
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : labels) {
        out += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape_label(v));
        first = false;
    }
    if (!extra_key.empty()) {
        out += fmt::format("{}{}=\"{}\"", first ? "" : ",", extra_key, extra_value);
    }
    out += '}';
    return out;
}

std::string number(double v) {
    if (std::isinf(v)) {
        return v > 0 ? "+Inf" : "-Inf";
    }
    if (std::isnan(v)) {
        return "NaN";
    }
    return fmt::format("{}", v);
}
}  // namespace

struct metrics_registry::family {
    std::string name;
    std::string help;
    int type;
    struct child {
        metric_labels labels;
        std::unique_ptr<counter> c;
        std::unique_ptr<gauge> g;
        std::unique_ptr<histogram> h;
        std::function<double()> fn;
        const void* owner = nullptr;
    };
    std::vector<child> children;
};

metrics_registry::metrics_registry() = default;
metrics_registry::~metrics_registry() = default;

metrics_registry::family& metrics_registry::find_or_add(std::string_view name,
                                                        std::string_view help, int type) {
    for (auto& f : families_) {
        if (f->name == name) {
            if (f->type != type) {
                throw std::logic_error(fmt::format("metric {} registered with two types", name));
            }
            return *f;
        }
    }
    families_.push_back(std::make_unique<family>(family{std::string(name), std::string(help), type, {}}));
    return *families_.back();
}

counter& metrics_registry::get_counter(std::string_view name, std::string_view help,
                                       const metric_labels& labels) {
    std::lock_guard lock(mutex_);
    auto& f = find_or_add(name, help, type_counter);
    for (auto& ch : f.children) {
        if (ch.labels == labels && ch.c) {
            return *ch.c;
        }
    }
    f.children.push_back({labels, std::make_unique<counter>(), nullptr, nullptr, nullptr, nullptr});
    return *f.children.back().c;
}

gauge& metrics_registry::get_gauge(std::string_view name, std::string_view help,
                                   const metric_labels& labels) {
    std::lock_guard lock(mutex_);
    auto& f = find_or_add(name, help, type_gauge);
    for (auto& ch : f.children) {
        if (ch.labels == labels && ch.g) {
            return *ch.g;
        }
    }
    f.children.push_back({labels, nullptr, std::make_unique<gauge>(), nullptr, nullptr, nullptr});
    return *f.children.back().g;
}

histogram& metrics_registry::get_histogram(std::string_view name, std::string_view help,
                                           const std::vector<double>& bounds,
                                           const metric_labels& labels) {
    std::lock_guard lock(mutex_);
    auto& f = find_or_add(name, help, type_histogram);
    for (auto& ch : f.children) {
        if (ch.labels == labels && ch.h) {
            return *ch.h;
        }
    }
    f.children.push_back(
        {labels, nullptr, nullptr, std::make_unique<histogram>(bounds), nullptr, nullptr});
    return *f.children.back().h;
}

void metrics_registry::gauge_callback(std::string_view name, std::string_view help,
                                      const metric_labels& labels, std::function<double()> fn,
                                      const void* owner) {
    std::lock_guard lock(mutex_);
    auto& f = find_or_add(name, help, type_gauge);
    f.children.push_back({labels, nullptr, nullptr, nullptr, std::move(fn), owner});
}

void metrics_registry::remove_callbacks(const void* owner) {
    std::lock_guard lock(mutex_);
    for (auto& f : families_) {
        std::erase_if(f->children, [&](const family::child& ch) { return ch.fn && ch.owner == owner; });
    }
}

std::string metrics_registry::render() const {
    std::lock_guard lock(mutex_);
    std::string out;
    out.reserve(4096);
    for (const auto& f : families_) {
        if (f->children.empty()) {
            continue;
        }
        static constexpr const char* type_names[] = {"counter", "gauge", "histogram"};
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f->name, f->help, f->name,
                           type_names[f->type]);
        for (const auto& ch : f->children) {
            if (ch.c) {
                out += fmt::format("{}{} {}\n", f->name, label_text(ch.labels), ch.c->value());
            } else if (ch.g) {
                out += fmt::format("{}{} {}\n", f->name, label_text(ch.labels), number(ch.g->value()));
            } else if (ch.fn) {
                out += fmt::format("{}{} {}\n", f->name, label_text(ch.labels), number(ch.fn()));
            } else if (ch.h) {
                std::uint64_t cumulative = 0;
                const auto& b = ch.h->bounds();
                for (std::size_t i = 0; i <= b.size(); ++i) {
                    cumulative += ch.h->bucket_count(i);
                    const std::string le = i < b.size() ? number(b[i]) : "+Inf";
                    out += fmt::format("{}_bucket{} {}\n", f->name, label_text(ch.labels, "le", le),
                                       cumulative);
                }
                out += fmt::format("{}_sum{} {}\n", f->name, label_text(ch.labels), number(ch.h->sum()));
                out += fmt::format("{}_count{} {}\n", f->name, label_text(ch.labels), cumulative);
            }
        }
    }
    return out;
}

}  // namespace monochat::infra
