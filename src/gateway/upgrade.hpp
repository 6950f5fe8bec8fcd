#pragma once
// The hand-over of an upgraded connection from the HTTP listener to the WebSocket gateway.

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <monochat/gateway/http_server.hpp>
#include <string>
#include <variant>

namespace monochat::gateway {

// The two kinds of client connection on the one port.
using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

struct upgrade_request {
    std::variant<plain_stream, tls_stream> stream;
    boost::beast::flat_buffer buffer;  // bytes read past the request
    boost::beast::http::request<boost::beast::http::string_body> request;
    http_request parsed;  // path, query, authorization, client address, trace id
    // Called once when the upgraded connection ends (the listener counts open connections).
    std::function<void()> on_close;
};

}  // namespace monochat::gateway
