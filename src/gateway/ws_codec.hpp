#pragma once
// The WebSocket wire format (RFC 6455), server side, without I/O: the opening handshake's
// accept key, the frame header of what the server sends, and an incremental reader of what a
// client sends. The session in websocket_gateway.cpp does the I/O around it.
//
// Why our own and not Beast's stream: an idle authenticated connection held 7.6 KB, of which
// Beast's WebSocket stream state (with its built-in frame buffer), the TCP stream's timers and
// the pending composed read were 3.9 KB (docs/benchmarks.md, "Idle connection memory"). This
// reader holds two empty strings between messages; the session reads into a buffer of its
// I/O thread, not one of its own.
//
// What the reader enforces, each a close code of RFC 6455 7.4.1 in `read_error`:
// - 1002 (protocol error): a reserved bit set, an unknown opcode, a client frame that is not
//   masked, a control frame that is fragmented or longer than 125 bytes, a continuation with no
//   message to continue or a new message inside a fragmented one, a 64-bit length with its top
//   bit set, a close frame with a one-byte payload or a code no endpoint may send;
// - 1007 (invalid payload data): a text message or close reason that is not UTF-8;
// - 1009 (message too big): a message, all fragments together, longer than the reader's bound.
// After an error the reader accepts nothing more.
// Thread-safety: none; one connection's reader is used by one thread at a time.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace monochat::gateway::ws_codec {

enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xA,
};

// RFC 6455 close codes the server uses.
inline constexpr std::uint16_t close_normal = 1000;
inline constexpr std::uint16_t close_going_away = 1001;
inline constexpr std::uint16_t close_protocol_error = 1002;
inline constexpr std::uint16_t close_no_status = 1005;  // never sent: a close without a code
inline constexpr std::uint16_t close_invalid_payload = 1007;
inline constexpr std::uint16_t close_too_big = 1009;

// Empties `s` and gives its heap buffer back. (`s = std::string()` does not: libstdc++'s move
// assignment from a short string copies it into the buffer `s` already has and keeps that.)
inline void release(std::string& s) { std::string().swap(s); }

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 4.2.2).
std::string accept_key(std::string_view client_key);

// Whether `key` is a valid Sec-WebSocket-Key: base64 of 16 bytes (24 characters).
bool valid_client_key(std::string_view key);

// The header of one unfragmented, unmasked server frame carrying `payload_size` bytes: 2, 4 or
// 10 bytes written to `out`; returns how many.
std::size_t encode_header(opcode op, std::size_t payload_size, std::array<char, 10>& out);

// A whole server frame (header and payload), for control frames and tests.
std::string encode_frame(opcode op, std::string_view payload);

// The payload of a close frame: the code in network order, then the reason (cut at 123 bytes,
// on a UTF-8 boundary).
std::string close_payload(std::uint16_t code, std::string_view reason);

// Whether `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

// One thing a client sent.
struct event {
    enum class kind { text, binary, ping, pong, close } what;
    std::string payload;  // the message (text, binary), the ping's or pong's data, the reason
    std::uint16_t code = 0;  // close: the client's code, close_no_status when it sent none
};

struct read_error {
    std::uint16_t code;  // the close code to answer with
    std::string reason;
};

class reader {
public:
    explicit reader(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

    struct feed_result {
        std::size_t consumed = 0;           // bytes of the input parsed
        std::optional<read_error> error;    // the error that ends the connection
    };

    // Parses `bytes` (the next bytes from the client) and calls `on_event` for each complete
    // message and control frame, in order. Stops at the first error (events before it have
    // been delivered; the reader accepts nothing more) or when `on_event` returns false: then
    // `consumed` counts the bytes up to the end of that event's frame, and the caller feeds
    // the rest again when it is ready for more.
    feed_result feed(std::string_view bytes, const std::function<bool(event&&)>& on_event);

    // Bytes held for a message or a frame header that is not complete yet.
    std::size_t buffered_bytes() const { return header_.size() + message_.size() + control_.size(); }

    // Heap bytes the reader holds (string capacity beyond the in-object buffers).
    std::size_t heap_bytes() const;

    // A message of at most this many bytes is accepted (applies to the next frame read).
    void set_max_message_bytes(std::size_t n) { max_message_ = n; }

    // Gives back the capacity of a large message once it is delivered.
    void trim();

private:
    std::optional<read_error> fail(std::uint16_t code, std::string reason);
    std::optional<read_error> start_frame();
    std::optional<read_error> finish_frame(const std::function<bool(event&&)>& on_event,
                                           bool& paused);

    std::size_t max_message_;
    // The frame header being read (2 to 14 bytes), until it is complete.
    std::string header_;
    // The frame being read: its opcode, whether it is the message's last, its mask, and the
    // payload bytes still to come.
    opcode op_ = opcode::continuation;
    bool fin_ = false;
    bool in_frame_ = false;
    std::array<std::uint8_t, 4> mask_{};
    std::size_t mask_at_ = 0;
    std::uint64_t remaining_ = 0;
    // The data message being assembled (a message's fragments), and its kind.
    std::string message_;
    bool in_message_ = false;
    bool message_text_ = false;
    // A control frame's payload (at most 125 bytes; may arrive inside a fragmented message).
    std::string control_;
    bool failed_ = false;
};

}  // namespace monochat::gateway::ws_codec
