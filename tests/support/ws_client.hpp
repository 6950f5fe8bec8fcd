#pragma once
// A WebSocket client for integration tests. An io thread reads frames into a queue as they
// arrive; the test thread sends and takes frames with deadlines. Reading can be paused, so a
// test can play a slow consumer whose socket buffers fill up.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monochat::test {

class ws_client {
public:
    struct options {
        bool token_in_query = false;
        // Receive buffer size for the socket (0: the system's); small values make a paused
        // client fill up fast.
        int receive_buffer = 0;
    };

    // Connects and completes the handshake; throws std::runtime_error on failure (with the
    // HTTP status of a refusal in the message).
    ws_client(const std::string& host, int port, const std::string& token);
    ws_client(const std::string& host, int port, const std::string& token, options opts);
    ~ws_client();
    ws_client(const ws_client&) = delete;
    ws_client& operator=(const ws_client&) = delete;

    // The HTTP status a handshake gets (101 when accepted; the connection is then dropped).
    static int handshake_status(const std::string& host, int port, const std::string& target,
                                const std::string& authorization = {});

    void send(const nlohmann::json& frame);
    void send_text(const std::string& text);
    void send_binary(const std::string& bytes);

    // The next frame (parsed), or nullopt after `timeout` or when the connection closed.
    std::optional<nlohmann::json> recv(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    // The next frame whose "type" is `type`, skipping others (kept for later recv calls);
    // throws after `timeout`.
    nlohmann::json expect(const std::string& type,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    // Frames of `type` received so far and not yet taken, without waiting.
    std::size_t pending(const std::string& type);
    // Drops everything received so far.
    void drain();

    // True once the server closed the connection (within `timeout`); close_code() is then set.
    bool wait_closed(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    int close_code() const;

    void pause_reading(bool paused);
    void close();

    // The hello frame received on connect.
    const nlohmann::json& hello() const { return hello_; }

private:
    struct impl;
    std::shared_ptr<impl> impl_;
    nlohmann::json hello_;
};

}  // namespace monochat::test
