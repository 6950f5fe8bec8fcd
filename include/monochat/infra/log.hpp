#pragma once
// Structured logging: one line per event, logfmt or JSON, to standard error.
//
//   ts=2026-11-23T18:30:00.123Z level=info module=gateway trace=3f2a... msg="listening" addr=...
//
// Every line has a time, a level, the module that wrote it and a message; a `trace` field
// (a request's or a message's trace id) lets one follow a request through the layers.
// Thread-safety: every function may be called from any thread; lines are never interleaved.
// Never log secrets: passwords, tokens and their hashes stay out of every field.

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace monochat::infra::log {

enum class level : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };
enum class format { logfmt, json };

struct field {
    std::string_view key;
    std::string value;

    field(std::string_view k, std::string v) : key(k), value(std::move(v)) {}
    field(std::string_view k, std::string_view v) : key(k), value(v) {}
    field(std::string_view k, const char* v) : key(k), value(v) {}
    template <std::integral T>
    field(std::string_view k, T v) : key(k), value(std::to_string(v)) {}
    field(std::string_view k, double v);
};

// Parses "trace".."error"; false for anything else.
bool parse_level(std::string_view text, level& out);

void set_level(level l);
level current_level();
void set_format(format f);
// Lines go to stderr by default; tests may capture them.
void set_sink(void (*sink)(std::string_view line));

inline bool enabled(level l) { return static_cast<int>(l) >= static_cast<int>(current_level()); }

void write(level l, std::string_view module, std::string_view msg,
           std::initializer_list<field> fields = {});

inline void debug(std::string_view module, std::string_view msg,
                  std::initializer_list<field> fields = {}) {
    if (enabled(level::debug)) {
        write(level::debug, module, msg, fields);
    }
}
inline void info(std::string_view module, std::string_view msg,
                 std::initializer_list<field> fields = {}) {
    if (enabled(level::info)) {
        write(level::info, module, msg, fields);
    }
}
inline void warn(std::string_view module, std::string_view msg,
                 std::initializer_list<field> fields = {}) {
    if (enabled(level::warn)) {
        write(level::warn, module, msg, fields);
    }
}
inline void error(std::string_view module, std::string_view msg,
                  std::initializer_list<field> fields = {}) {
    if (enabled(level::error)) {
        write(level::error, module, msg, fields);
    }
}

// A fresh random 64-bit trace id as 16 hex digits.
std::string new_trace_id();

}  // namespace monochat::infra::log
