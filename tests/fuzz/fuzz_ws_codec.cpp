// libFuzzer target: bytes from a client's socket, read by the WebSocket frame reader
// (gateway/ws_codec.cpp) in chunks whose sizes the input picks, under a message bound the input
// picks. Checks: nothing crashes or reads out of bounds; every message is within the bound and
// every text message and close reason is UTF-8; control payloads are at most 125 bytes;
// after an error nothing more is delivered; and the same bytes fed whole or in chunks give the
// same events and the same error.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/ws_codec.hpp"

namespace codec = monochat::gateway::ws_codec;

namespace {

struct outcome {
    std::vector<codec::event> events;
    std::optional<std::uint16_t> error;
};

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

outcome run(std::string_view bytes, std::size_t max_message, std::size_t chunk) {
    codec::reader r(max_message);
    outcome o;
    for (std::size_t at = 0; at < bytes.size() && !o.error; at += chunk) {
        const auto piece = bytes.substr(at, chunk);
        const auto res = r.feed(piece, [&](codec::event&& e) {
            check(!o.error);
            switch (e.what) {
                case codec::event::kind::text:
                    check(codec::valid_utf8(e.payload));
                    check(e.payload.size() <= max_message);
                    break;
                case codec::event::kind::binary: check(e.payload.size() <= max_message); break;
                case codec::event::kind::close:
                    check(codec::valid_utf8(e.payload));
                    check(e.payload.size() <= 123);
                    break;
                case codec::event::kind::ping:
                case codec::event::kind::pong: check(e.payload.size() <= 125); break;
            }
            o.events.push_back(std::move(e));
            return true;
        });
        if (res.error) {
            o.error = res.error->code;
        } else {
            check(res.consumed == piece.size());
        }
    }
    return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) {
        return 0;
    }
    const std::size_t max_message = 1 + data[0] * 16;
    const std::size_t chunk = 1 + data[1] % 32;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);
    const auto whole = run(bytes, max_message, bytes.size() + 1);
    const auto pieces = run(bytes, max_message, chunk);
    check(whole.error == pieces.error);
    check(whole.events.size() == pieces.events.size());
    for (std::size_t i = 0; i < whole.events.size(); ++i) {
        check(whole.events[i].what == pieces.events[i].what);
        check(whole.events[i].payload == pieces.events[i].payload);
        check(whole.events[i].code == pieces.events[i].code);
    }
    return 0;
}
