#pragma once
// A loopback HTTP receiver for webhook tests: accepts on 127.0.0.1 (port 0, or a given port to
// come back on after an outage), records every request and answers each with the status set
// at that moment (200 unless told otherwise), then closes the connection. Runs on a thread of
// its own; stops with the object.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace monochat::test {

class http_receiver {
public:
    struct request {
        std::string method;
        std::string target;
        std::map<std::string, std::string> headers;  // names in lower case
        std::string body;
        int answered = 0;  // the status it got
    };

    // Throws std::runtime_error when the port cannot be bound.
    explicit http_receiver(int port = 0);
    ~http_receiver();
    http_receiver(const http_receiver&) = delete;
    http_receiver& operator=(const http_receiver&) = delete;

    int port() const { return port_; }
    // http://127.0.0.1:<port><path>
    std::string url(const std::string& path = "/hook") const;
    void set_status(int status);
    std::vector<request> requests() const;
    // Waits until `done(requests())` holds; false after `timeout`.
    bool wait_for(const std::function<bool(const std::vector<request>&)>& done,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(30000)) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    int port_ = 0;
};

// HMAC-SHA256 of `data` with `key`, in lower-case hex (OpenSSL): what a receiver computes to
// check a signature.
std::string hmac_sha256_hex(const std::string& key, const std::string& data);

}  // namespace monochat::test
