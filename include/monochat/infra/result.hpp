#pragma once
// Errors as values across every module boundary.
//
// One vocabulary of error codes, the protocol's (shared/protocol.md, "Errors"). Gateway alone
// maps them to HTTP statuses and WebSocket `error` frames; every other module returns them.
// Third-party errors (RocksDB status, SQLite codes, Asio error_code) are converted inside the
// module that owns the library.

#include <boost/system/result.hpp>
#include <string>
#include <string_view>
#include <utility>

namespace monochat {

enum class errc {
    invalid_argument,
    unauthenticated,
    forbidden,
    not_found,
    method_not_allowed,
    conflict,
    too_large,
    rate_limited,
    internal,
    unavailable,
};

// The wire spelling of a code ("invalid_argument", ...).
std::string_view to_string(errc code) noexcept;

struct error {
    errc code = errc::internal;
    std::string message;
    // For rate_limited: seconds until a retry may succeed (Retry-After). 0 when unknown.
    int retry_after_s = 0;
};

[[nodiscard]] inline error make_error(errc code, std::string message) {
    return error{code, std::move(message), 0};
}

// Lets boost::system::result throw when value() is called on an error (a programming error).
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

template <class T>
using result = boost::system::result<T, error>;

// result<void> spelled as a type with a value, for code that wants `co_return ok();`.
using status = boost::system::result<void, error>;

}  // namespace monochat
