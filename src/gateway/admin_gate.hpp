#pragma once
// The admin gate of the REST pipeline: 401 without a valid bearer token, 403 without the
// admin role (the backend decides). Shared by admin_routes.cpp and integration_routes.cpp.
// Private to gateway.

#include <monochat/gateway/admin_routes.hpp>

#include "gateway/rest_pipeline.hpp"

namespace monochat::gateway {

[[nodiscard]] rest::gate<admin_caller> admin_gate(admin_backend& backend);

}  // namespace monochat::gateway
