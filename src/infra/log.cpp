#include <monochat/infra/log.hpp>

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>

namespace monochat::infra::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};
std::atomic<int> g_format{static_cast<int>(format::logfmt)};
std::atomic<void (*)(std::string_view)> g_sink{nullptr};
std::mutex g_write_mutex;

std::string_view level_name(level l) {
    switch (l) {
        case level::trace: return "trace";
        case level::debug: return "debug";
        case level::info: return "info";
        case level::warn: return "warn";
        case level::error: return "error";
    }
    return "info";
}

std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) {
        return true;
    }
    for (unsigned char ch : v) {
        if (ch <= ' ' || ch == '"' || ch == '=' || ch == '\\' || ch >= 0x7f) {
            return true;
        }
    }
    return false;
}

// Escapes for both logfmt and JSON strings: quotes, backslashes and control characters.
void append_escaped(std::string& out, std::string_view v) {
    for (unsigned char ch : v) {
        switch (ch) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (ch < 0x20) {
                    out += fmt::format("\\u{:04x}", ch);
                } else {
                    out += static_cast<char>(ch);
                }
        }
    }
}

void append_logfmt(std::string& out, std::string_view key, std::string_view value) {
    if (!out.empty()) {
        out += ' ';
    }
    out += key;
    out += '=';
    if (needs_quotes(value)) {
        out += '"';
        append_escaped(out, value);
        out += '"';
    } else {
        out += value;
    }
}

void append_json(std::string& out, std::string_view key, std::string_view value) {
    out += out.size() > 1 ? ",\"" : "\"";
    append_escaped(out, key);
    out += "\":\"";
    append_escaped(out, value);
    out += '"';
}

}  // namespace

field::field(std::string_view k, double v) : key(k), value(fmt::format("{}", v)) {}

bool parse_level(std::string_view text, level& out) {
    for (level l : {level::trace, level::debug, level::info, level::warn, level::error}) {
        if (level_name(l) == text) {
            out = l;
            return true;
        }
    }
    return false;
}

void set_level(level l) { g_level.store(static_cast<int>(l), std::memory_order_relaxed); }
level current_level() { return static_cast<level>(g_level.load(std::memory_order_relaxed)); }
void set_format(format f) { g_format.store(static_cast<int>(f), std::memory_order_relaxed); }
void set_sink(void (*sink)(std::string_view)) { g_sink.store(sink); }

void write(level l, std::string_view module, std::string_view msg,
           std::initializer_list<field> fields) {
    std::string line;
    line.reserve(128);
    const bool json = g_format.load(std::memory_order_relaxed) == static_cast<int>(format::json);
    auto add = json ? append_json : append_logfmt;
    if (json) {
        line += '{';
    }
    add(line, "ts", timestamp());
    add(line, "level", level_name(l));
    add(line, "module", module);
    add(line, "msg", msg);
    for (const auto& f : fields) {
        add(line, f.key, f.value);
    }
    if (json) {
        line += '}';
    }
    line += '\n';
    if (auto sink = g_sink.load()) {
        sink(line);
        return;
    }
    std::lock_guard lock(g_write_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

std::string new_trace_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{:016x}", rng());
}

}  // namespace monochat::infra::log
