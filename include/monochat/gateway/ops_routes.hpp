#pragma once
// Operations endpoints (no prefix, no token): `/healthz`, `/readyz`, `/metrics`.

#include <atomic>
#include <monochat/gateway/http.hpp>

namespace monochat::infra {
class metrics_registry;
}

namespace monochat::gateway {

// Readiness as the composition root sees it: true once storage is open and the listener
// accepts; false again from the moment a stop begins.
struct health_state {
    std::atomic<bool> ready{false};
    std::atomic<bool> draining{false};
};

void add_ops_routes(router& routes, const health_state& health, infra::metrics_registry& metrics);

}  // namespace monochat::gateway
