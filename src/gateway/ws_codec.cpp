#include "gateway/ws_codec.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>

namespace monochat::gateway::ws_codec {

namespace {

constexpr std::string_view handshake_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::size_t max_control_payload = 125;
constexpr std::size_t max_close_reason = max_control_payload - 2;

bool is_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

// Codes a client may put in a close frame (RFC 6455 7.4.1 and 7.4.2; 1012-1014 are
// IANA-registered since). 1004, 1005, 1006 and 1015 must never be sent.
bool sendable_close_code(std::uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

// Length of the longest prefix of `s` of at most `max` bytes that does not split a UTF-8
// sequence.
std::size_t utf8_prefix(std::string_view s, std::size_t max) {
    if (s.size() <= max) {
        return s.size();
    }
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
        --n;  // s[n] continues a sequence that starts before it: cut before that start
    }
    return n;
}

}  // namespace

std::string accept_key(std::string_view client_key) {
    std::string input(client_key);
    input += handshake_guid;
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n));
}

bool valid_client_key(std::string_view key) {
    // 16 bytes are 22 base64 characters and "==" (RFC 6455 4.1: a randomly selected 16-byte
    // value that has been base64-encoded).
    if (key.size() != 24 || key.substr(22) != "==") {
        return false;
    }
    return std::all_of(key.begin(), key.begin() + 22, is_base64_char);
}

std::size_t encode_header(opcode op, std::size_t payload_size, std::array<char, 10>& out) {
    out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(op));  // FIN, no RSV bits
    if (payload_size < 126) {
        out[1] = static_cast<char>(payload_size);
        return 2;
    }
    if (payload_size <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<char>(payload_size >> 8);
        out[3] = static_cast<char>(payload_size & 0xFF);
        return 4;
    }
    out[1] = 127;
    const auto n = static_cast<std::uint64_t>(payload_size);
    for (int i = 0; i < 8; ++i) {
        out[2 + i] = static_cast<char>((n >> (56 - 8 * i)) & 0xFF);
    }
    return 10;
}

std::string encode_frame(opcode op, std::string_view payload) {
    std::array<char, 10> header{};
    const std::size_t h = encode_header(op, payload.size(), header);
    std::string out;
    out.reserve(h + payload.size());
    out.append(header.data(), h);
    out.append(payload);
    return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
    std::string out;
    out.push_back(static_cast<char>(code >> 8));
    out.push_back(static_cast<char>(code & 0xFF));
    out.append(reason.substr(0, utf8_prefix(reason, max_close_reason)));
    return out;
}

bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        // ASCII runs are the common case: eight bytes at a time.
        while (end - p >= 8) {
            std::uint64_t w;
            std::copy(p, p + 8, reinterpret_cast<unsigned char*>(&w));
            if ((w & 0x8080808080808080ULL) != 0) {
                break;
            }
            p += 8;
        }
        if (p == end) {
            break;
        }
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80;  // the bounds of the second byte (overlongs, surrogates, range)
        unsigned char hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) {
                lo = 0xA0;
            } else if (c == 0xED) {
                hi = 0x9F;
            }
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) {
                lo = 0x90;
            } else if (c == 0xF4) {
                hi = 0x8F;
            }
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) < len || p[1] < lo || p[1] > hi) {
            return false;
        }
        for (std::size_t k = 2; k < len; ++k) {
            if ((p[k] & 0xC0) != 0x80) {
                return false;
            }
        }
        p += len;
    }
    return true;
}

std::size_t reader::heap_bytes() const {
    const auto held = [](const std::string& s) {
        return s.capacity() > std::string().capacity() ? s.capacity() : std::size_t{0};
    };
    return held(header_) + held(message_) + held(control_);
}

void reader::trim() {
    if (!in_message_ && message_.capacity() > 0) {
        release(message_);
    }
}

std::optional<read_error> reader::fail(std::uint16_t code, std::string reason) {
    failed_ = true;
    release(header_);
    release(message_);
    release(control_);
    return read_error{code, std::move(reason)};
}

std::optional<read_error> reader::start_frame() {
    const auto b0 = static_cast<std::uint8_t>(header_[0]);
    const auto b1 = static_cast<std::uint8_t>(header_[1]);
    if ((b0 & 0x70) != 0) {
        return fail(close_protocol_error, "reserved bits are set");
    }
    const std::uint8_t op = b0 & 0x0F;
    if (op != 0x0 && op != 0x1 && op != 0x2 && op != 0x8 && op != 0x9 && op != 0xA) {
        return fail(close_protocol_error, "unknown opcode");
    }
    if ((b1 & 0x80) == 0) {
        return fail(close_protocol_error, "client frames must be masked");
    }
    std::uint64_t len = b1 & 0x7F;
    std::size_t at = 2;
    if (len == 126) {
        len = (static_cast<std::uint64_t>(static_cast<std::uint8_t>(header_[2])) << 8) |
              static_cast<std::uint8_t>(header_[3]);
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (std::size_t i = 0; i < 8; ++i) {
            len = (len << 8) | static_cast<std::uint8_t>(header_[2 + i]);
        }
        if ((len >> 63) != 0) {
            return fail(close_protocol_error, "the frame length's top bit is set");
        }
        at = 10;
    }
    const bool fin = (b0 & 0x80) != 0;
    const bool control = op >= 0x8;
    if (control) {
        if (!fin) {
            return fail(close_protocol_error, "a control frame must not be fragmented");
        }
        if (len > max_control_payload) {
            return fail(close_protocol_error, "a control frame carries at most 125 bytes");
        }
    } else if (op == 0x0) {
        if (!in_message_) {
            return fail(close_protocol_error, "a continuation frame with no message to continue");
        }
        if (len > max_message_ - std::min(max_message_, message_.size())) {
            return fail(close_too_big, "message too big");
        }
    } else {
        if (in_message_) {
            return fail(close_protocol_error, "a new message inside a fragmented one");
        }
        if (len > max_message_) {
            return fail(close_too_big, "message too big");
        }
    }
    for (std::size_t i = 0; i < 4; ++i) {
        mask_[i] = static_cast<std::uint8_t>(header_[at + i]);
    }
    mask_at_ = 0;
    remaining_ = len;
    op_ = static_cast<opcode>(op);
    fin_ = fin;
    in_frame_ = true;
    header_.clear();
    if (control) {
        control_.clear();
    } else if (op != 0x0) {
        in_message_ = true;
        message_text_ = op == 0x1;
        message_.clear();
        if (fin) {
            message_.reserve(static_cast<std::size_t>(len));
        }
    }
    return std::nullopt;
}

std::optional<read_error> reader::finish_frame(const std::function<bool(event&&)>& on_event,
                                               bool& paused) {
    in_frame_ = false;
    switch (op_) {
        case opcode::ping:
        case opcode::pong: {
            event e{op_ == opcode::ping ? event::kind::ping : event::kind::pong, std::move(control_)};
            release(control_);
            paused = !on_event(std::move(e));
            return std::nullopt;
        }
        case opcode::close: {
            event e{event::kind::close, {}, close_no_status};
            if (control_.size() == 1) {
                return fail(close_protocol_error, "a close frame's code takes two bytes");
            }
            if (control_.size() >= 2) {
                e.code = static_cast<std::uint16_t>(
                    (static_cast<std::uint8_t>(control_[0]) << 8) | static_cast<std::uint8_t>(control_[1]));
                if (!sendable_close_code(e.code)) {
                    return fail(close_protocol_error, "a close code no endpoint may send");
                }
                e.payload = control_.substr(2);
                if (!valid_utf8(e.payload)) {
                    return fail(close_invalid_payload, "the close reason is not UTF-8");
                }
            }
            release(control_);
            paused = !on_event(std::move(e));
            return std::nullopt;
        }
        case opcode::continuation:
        case opcode::text:
        case opcode::binary: {
            if (!fin_) {
                return std::nullopt;  // more fragments follow
            }
            in_message_ = false;
            if (message_text_ && !valid_utf8(message_)) {
                return fail(close_invalid_payload, "a text message that is not UTF-8");
            }
            event e{message_text_ ? event::kind::text : event::kind::binary, std::move(message_)};
            release(message_);
            paused = !on_event(std::move(e));
            return std::nullopt;
        }
    }
    return std::nullopt;
}

reader::feed_result reader::feed(std::string_view bytes,
                                 const std::function<bool(event&&)>& on_event) {
    feed_result r;
    std::size_t i = 0;
    bool paused = false;
    while (!failed_ && !paused && i < bytes.size()) {
        if (!in_frame_) {
            // The header: 2 bytes, then the extended length (0, 2 or 8) and the mask (0 or 4).
            const auto header_size = [this] {
                if (header_.size() < 2) {
                    return std::size_t{2};
                }
                const auto b1 = static_cast<std::uint8_t>(header_[1]);
                const std::uint8_t len7 = b1 & 0x7F;
                return std::size_t{2} + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) +
                       ((b1 & 0x80) != 0 ? 4 : 0);
            };
            std::size_t need = header_size();
            while (i < bytes.size() && header_.size() < need) {
                header_.push_back(bytes[i++]);
                need = header_size();
            }
            if (header_.size() < need) {
                break;  // the rest of the header comes with the next bytes
            }
            if (auto e = start_frame()) {
                r.error = std::move(e);
                break;
            }
            if (remaining_ == 0) {
                if (auto e = finish_frame(on_event, paused)) {
                    r.error = std::move(e);
                    break;
                }
            }
            continue;
        }
        const std::size_t take =
            static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, bytes.size() - i));
        std::string& dest = static_cast<std::uint8_t>(op_) >= 0x8 ? control_ : message_;
        const std::size_t from = dest.size();
        dest.resize(from + take);
        char* out = dest.data() + from;
        const char* in = bytes.data() + i;
        for (std::size_t k = 0; k < take; ++k) {
            out[k] = static_cast<char>(static_cast<std::uint8_t>(in[k]) ^ mask_[(mask_at_ + k) & 3]);
        }
        mask_at_ = (mask_at_ + take) & 3;
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) {
            if (auto e = finish_frame(on_event, paused)) {
                r.error = std::move(e);
                break;
            }
        }
    }
    r.consumed = i;
    return r;
}

}  // namespace monochat::gateway::ws_codec
