#include <monochat/infra/result.hpp>

#include <stdexcept>

namespace monochat {

std::string_view to_string(errc code) noexcept {
    switch (code) {
        case errc::invalid_argument: return "invalid_argument";
        case errc::unauthenticated: return "unauthenticated";
        case errc::forbidden: return "forbidden";
        case errc::not_found: return "not_found";
        case errc::method_not_allowed: return "method_not_allowed";
        case errc::conflict: return "conflict";
        case errc::too_large: return "too_large";
        case errc::rate_limited: return "rate_limited";
        case errc::internal: return "internal";
        case errc::unavailable: return "unavailable";
    }
    return "internal";
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
    throw std::runtime_error(std::string(to_string(e.code)) + ": " + e.message + " (at " +
                             loc.file_name() + ":" + std::to_string(loc.line()) + ")");
}

}  // namespace monochat
