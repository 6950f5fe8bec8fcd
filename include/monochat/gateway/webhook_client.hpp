#pragma once
// The outbound HTTP client of outgoing webhooks (logic/webhooks.hpp's webhook_transport):
// Boost.Beast over the server's own I/O context, TLS through OpenSSL for https with the
// system's trusted certificates, the peer's certificate checked against the URL's host (and
// SNI sent). One connection per delivery, closed after the response; the whole exchange is
// bounded by the request's timeout and the response body by its max_response_bytes.
//
// Thread-safety: any thread; each call's work runs on the calling coroutine's executor.

#include <memory>
#include <monochat/logic/webhooks.hpp>

namespace boost::asio {
class io_context;
}

namespace monochat::gateway {

// `io` must outlive the client and every call in progress.
[[nodiscard]] std::unique_ptr<logic::webhook_transport> make_webhook_client(
    boost::asio::io_context& io);

}  // namespace monochat::gateway
