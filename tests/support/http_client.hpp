#pragma once
// A small synchronous HTTP/1.1 client for integration tests: one keep-alive connection,
// reconnecting when the server closed it, with a deadline on every call.

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace monochat::test {

struct http_reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    // The body parsed as JSON (throws when it is not JSON).
    nlohmann::json json() const;
    std::string header(const std::string& lower_name) const;
};

class http_client {
public:
    http_client(std::string host, int port);
    ~http_client();
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    // `body` is sent as is; `token` becomes `Authorization: Bearer <token>`.
    http_reply request(const std::string& method, const std::string& target,
                       const std::optional<std::string>& body = std::nullopt,
                       const std::string& token = {},
                       const std::vector<std::pair<std::string, std::string>>& headers = {});
    http_reply get(const std::string& target, const std::string& token = {}) {
        return request("GET", target, std::nullopt, token);
    }
    http_reply post(const std::string& target, const nlohmann::json& body,
                    const std::string& token = {}) {
        return request("POST", target, body.dump(), token);
    }
    http_reply post(const std::string& target, const std::string& token = {}) {
        return request("POST", target, std::nullopt, token);
    }
    http_reply del(const std::string& target, const std::string& token = {}) {
        return request("DELETE", target, std::nullopt, token);
    }
    http_reply patch(const std::string& target, const nlohmann::json& body,
                     const std::string& token = {}) {
        return request("PATCH", target, body.dump(), token);
    }

    std::chrono::milliseconds timeout{10000};

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// Sends raw bytes on a fresh connection and returns whatever the server answers until it
// closes or `timeout` passes (for malformed-request tests).
std::string raw_exchange(const std::string& host, int port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

}  // namespace monochat::test
