#include <monochat/gateway/ops_routes.hpp>

#include <monochat/infra/metrics.hpp>

namespace monochat::gateway {

void add_ops_routes(router& routes, const health_state& health, infra::metrics_registry& metrics) {
    routes.add(http_method::get, "/healthz", [](http_request&) -> boost::asio::awaitable<http_response> {
        co_return http_response::json(200, R"({"status":"ok"})");
    });
    routes.add(http_method::get, "/readyz",
               [&health](http_request&) -> boost::asio::awaitable<http_response> {
                   if (health.ready.load() && !health.draining.load()) {
                       co_return http_response::json(200, R"({"status":"ready"})");
                   }
                   co_return error_response(make_error(
                       errc::unavailable, health.draining.load() ? "draining" : "starting"));
               });
    routes.add(http_method::get, "/metrics",
               [&metrics](http_request&) -> boost::asio::awaitable<http_response> {
                   http_response r;
                   r.status = 200;
                   r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                   r.body = metrics.render();
                   co_return r;
               });
}

}  // namespace monochat::gateway
