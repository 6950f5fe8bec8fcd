#pragma once
// What a WebSocket upgrade says about who may open it (shared/protocol.md, Version 1.1,
// "WebSocket authentication"): the token offered as a subprotocol and the page's Origin.
// Pure functions over header values, free of Beast (the fuzz target calls them).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monochat::gateway {

// The subprotocol the server selects when a client offers it.
inline constexpr std::string_view ws_subprotocol = "monochat.v1";
// A client may carry its bearer token as the subprotocol `monochat.token.<token>`.
inline constexpr std::string_view ws_token_subprotocol_prefix = "monochat.token.";

struct ws_subprotocols {
    bool v1 = false;                   // `monochat.v1` was offered
    std::optional<std::string> token;  // the token of the one `monochat.token.<token>` offered
    // More than one token offered, an empty one, or one with characters a subprotocol name
    // cannot have (RFC 9110 token characters only): the offer is refused (401).
    bool malformed = false;
};

// Reads the Sec-WebSocket-Protocol value (every field of that name joined with ","): a
// comma-separated list of tokens with optional whitespace around each. Unknown subprotocols
// are ignored. Never throws.
ws_subprotocols parse_ws_subprotocols(std::string_view header);

// "scheme://host[:port]" in lower case, without a trailing "/" and without the scheme's
// default port (80 for http, 443 for https), so that equal origins compare equal.
std::string normalize_origin(std::string_view origin);

// Whether an upgrade with this Origin header may open a WebSocket: no Origin at all (not a
// browser), the server's own origin (`tls` picks https or http, `host` is the Host header), or
// one of `allowed` (server.allowed_origins). Anything else, "null" included, is not.
bool ws_origin_allowed(std::optional<std::string_view> origin, std::string_view host, bool tls,
                       const std::vector<std::string>& allowed);

}  // namespace monochat::gateway
