#include "gateway/ws_codec.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

using namespace monochat::gateway::ws_codec;

namespace {

// A client frame: masked with `mask`, FIN and opcode as given, the length in the shortest
// form unless `long_form` forces the 64-bit one.
std::string client_frame(std::uint8_t first_byte, std::string_view payload,
                         std::array<std::uint8_t, 4> mask = {0x12, 0x34, 0x56, 0x78},
                         bool masked = true, bool long_form = false) {
    std::string f;
    f.push_back(static_cast<char>(first_byte));
    const std::uint8_t m = masked ? 0x80 : 0;
    if (payload.size() < 126 && !long_form) {
        f.push_back(static_cast<char>(m | payload.size()));
    } else if (payload.size() <= 0xFFFF && !long_form) {
        f.push_back(static_cast<char>(m | 126));
        f.push_back(static_cast<char>(payload.size() >> 8));
        f.push_back(static_cast<char>(payload.size() & 0xFF));
    } else {
        f.push_back(static_cast<char>(m | 127));
        for (int i = 7; i >= 0; --i) {
            f.push_back(static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xFF));
        }
    }
    if (masked) {
        for (auto b : mask) {
            f.push_back(static_cast<char>(b));
        }
    }
    for (std::size_t i = 0; i < payload.size(); ++i) {
        f.push_back(static_cast<char>(static_cast<std::uint8_t>(payload[i]) ^ (masked ? mask[i % 4] : 0)));
    }
    return f;
}

std::string text(std::string_view p) { return client_frame(0x81, p); }

struct collected {
    std::vector<event> events;
    std::optional<read_error> error;
    std::size_t consumed = 0;
};

collected feed_all(reader& r, std::string_view bytes, std::size_t chunk = 0) {
    collected c;
    const auto on = [&c](event&& e) {
        c.events.push_back(std::move(e));
        return true;
    };
    if (chunk == 0) {
        auto res = r.feed(bytes, on);
        c.error = res.error;
        c.consumed = res.consumed;
        return c;
    }
    for (std::size_t at = 0; at < bytes.size() && !c.error; at += chunk) {
        auto res = r.feed(bytes.substr(at, chunk), on);
        c.error = res.error;
        c.consumed += res.consumed;
    }
    return c;
}

}  // namespace

TEST_CASE("the accept key is RFC 6455's example", "[gateway][ws_codec]") {
    // RFC 6455 1.3.
    CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(valid_client_key("dGhlIHNhbXBsZSBub25jZQ=="));
    CHECK_FALSE(valid_client_key(""));
    CHECK_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQ="));
    CHECK_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25j!Q=="));
    CHECK_FALSE(valid_client_key("dGhlIHNhbXBsZSBub25jZQAA"));
}

TEST_CASE("server headers use the shortest length form", "[gateway][ws_codec]") {
    std::array<char, 10> h{};
    CHECK(encode_header(opcode::text, 0, h) == 2);
    CHECK(static_cast<std::uint8_t>(h[0]) == 0x81);
    CHECK(h[1] == 0);
    CHECK(encode_header(opcode::text, 125, h) == 2);
    CHECK(h[1] == 125);
    CHECK(encode_header(opcode::binary, 126, h) == 4);
    CHECK(static_cast<std::uint8_t>(h[0]) == 0x82);
    CHECK(static_cast<std::uint8_t>(h[1]) == 126);
    CHECK(static_cast<std::uint8_t>(h[2]) == 0);
    CHECK(static_cast<std::uint8_t>(h[3]) == 126);
    CHECK(encode_header(opcode::text, 65535, h) == 4);
    CHECK(encode_header(opcode::text, 65536, h) == 10);
    CHECK(static_cast<std::uint8_t>(h[1]) == 127);
    CHECK(static_cast<std::uint8_t>(h[7]) == 1);  // 0x00 00 00 00 00 01 00 00
    CHECK(static_cast<std::uint8_t>(h[8]) == 0);
    const auto f = encode_frame(opcode::close, close_payload(4008, "slow consumer"));
    CHECK(static_cast<std::uint8_t>(f[0]) == 0x88);
    CHECK(f.size() == 2 + 2 + 13);
    CHECK(static_cast<std::uint8_t>(f[2]) == 4008 >> 8);
    CHECK(static_cast<std::uint8_t>(f[3]) == (4008 & 0xFF));
}

TEST_CASE("a close reason is cut at 123 bytes without splitting a character", "[gateway][ws_codec]") {
    std::string reason(122, 'a');
    reason += "\xC3\xA9";  // é straddles byte 123
    const auto p = close_payload(1000, reason);
    CHECK(p.size() == 2 + 122);
    CHECK(valid_utf8(p.substr(2)));
}

TEST_CASE("UTF-8 validation refuses overlongs, surrogates and bytes past U+10FFFF", "[gateway][ws_codec]") {
    CHECK(valid_utf8(""));
    CHECK(valid_utf8("plain ascii text, longer than eight bytes"));
    CHECK(valid_utf8("\xE4\xBD\xA0\xE5\xA5\xBD"));          // 你好
    CHECK(valid_utf8("\xF0\x9F\x98\x80"));                  // 😀
    CHECK(valid_utf8("\xF4\x8F\xBF\xBF"));                  // U+10FFFF
    CHECK_FALSE(valid_utf8("\xC0\xAF"));                    // overlong '/'
    CHECK_FALSE(valid_utf8("\xE0\x80\xAF"));                // overlong
    CHECK_FALSE(valid_utf8("\xED\xA0\x80"));                // a surrogate
    CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80"));            // past U+10FFFF
    CHECK_FALSE(valid_utf8("\xF0\x9F\x98"));                // cut short
    CHECK_FALSE(valid_utf8("abcdefgh\x80"));                // a lone continuation byte
    CHECK_FALSE(valid_utf8("\xFF"));
}

TEST_CASE("the reader delivers masked text messages, whole or byte by byte", "[gateway][ws_codec]") {
    const std::string big(70000, 'x');
    const std::string wire = text("hello") + text("") + text(std::string(300, 'y')) + text(big);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
        reader r(1 << 20);
        const auto c = feed_all(r, wire, chunk);
        REQUIRE_FALSE(c.error);
        REQUIRE(c.events.size() == 4);
        CHECK(c.events[0].what == event::kind::text);
        CHECK(c.events[0].payload == "hello");
        CHECK(c.events[1].payload.empty());
        CHECK(c.events[2].payload == std::string(300, 'y'));
        CHECK(c.events[3].payload == big);
        CHECK(r.buffered_bytes() == 0);
    }
}

TEST_CASE("fragments join into one message, with control frames between them", "[gateway][ws_codec]") {
    reader r(1024);
    const std::string wire = client_frame(0x01, "hel") + client_frame(0x89, "p1") +
                             client_frame(0x00, "lo ") + client_frame(0x8A, "") +
                             client_frame(0x80, "world") + client_frame(0x82, "\x01\x02");
    const auto c = feed_all(r, wire, 3);
    REQUIRE_FALSE(c.error);
    REQUIRE(c.events.size() == 4);
    CHECK(c.events[0].what == event::kind::ping);
    CHECK(c.events[0].payload == "p1");
    CHECK(c.events[1].what == event::kind::pong);
    CHECK(c.events[2].what == event::kind::text);
    CHECK(c.events[2].payload == "hello world");
    CHECK(c.events[3].what == event::kind::binary);
    CHECK(c.events[3].payload == "\x01\x02");
}

TEST_CASE("a close frame gives its code and reason, or no status", "[gateway][ws_codec]") {
    {
        reader r(1024);
        const auto c = feed_all(r, client_frame(0x88, close_payload(1000, "bye")));
        REQUIRE_FALSE(c.error);
        REQUIRE(c.events.size() == 1);
        CHECK(c.events[0].what == event::kind::close);
        CHECK(c.events[0].code == 1000);
        CHECK(c.events[0].payload == "bye");
    }
    {
        reader r(1024);
        const auto c = feed_all(r, client_frame(0x88, ""));
        REQUIRE(c.events.size() == 1);
        CHECK(c.events[0].code == close_no_status);
    }
    {
        reader r(1024);
        const auto c = feed_all(r, client_frame(0x88, close_payload(4001, "")));
        REQUIRE(c.events.size() == 1);
        CHECK(c.events[0].code == 4001);
    }
}

TEST_CASE("bad frames end the reader with RFC 6455's codes", "[gateway][ws_codec]") {
    struct bad_case {
        const char* what;
        std::string wire;
        std::uint16_t code;
    };
    const std::vector<bad_case> cases{
        {"unmasked", client_frame(0x81, "hi", {}, false), close_protocol_error},
        {"reserved bit", client_frame(0xC1, "hi"), close_protocol_error},
        {"unknown opcode", client_frame(0x83, "hi"), close_protocol_error},
        {"fragmented ping", client_frame(0x09, "p"), close_protocol_error},
        {"long ping", client_frame(0x89, std::string(126, 'p')), close_protocol_error},
        {"lone continuation", client_frame(0x80, "x"), close_protocol_error},
        {"message inside a fragmented one", client_frame(0x01, "a") + client_frame(0x81, "b"),
         close_protocol_error},
        {"one-byte close", client_frame(0x88, "\x03"), close_protocol_error},
        {"close code 1005", client_frame(0x88, close_payload(1005, "")), close_protocol_error},
        {"close code 999", client_frame(0x88, close_payload(999, "")), close_protocol_error},
        {"close code 2000", client_frame(0x88, close_payload(2000, "")), close_protocol_error},
        {"invalid UTF-8 text", text("\xC0\xAF"), close_invalid_payload},
        {"invalid UTF-8 across fragments", client_frame(0x01, "\xE4\xBD") + client_frame(0x80, "\x41"),
         close_invalid_payload},
        {"invalid UTF-8 close reason", client_frame(0x88, std::string("\x03\xE8\xFF", 3)),
         close_invalid_payload},
        {"too big", text(std::string(101, 'x')), close_too_big},
        {"too big across fragments",
         client_frame(0x01, std::string(60, 'x')) + client_frame(0x80, std::string(41, 'x')),
         close_too_big},
    };
    for (const auto& bc : cases) {
        INFO(bc.what);
        reader r(100);
        const auto c = feed_all(r, bc.wire);
        REQUIRE(c.error);
        CHECK(c.error->code == bc.code);
        CHECK(c.events.empty());
        // Nothing more is accepted afterwards.
        CHECK_FALSE(feed_all(r, text("later")).events.size());
    }
}

TEST_CASE("a too-big frame is refused from its header, before its payload arrives", "[gateway][ws_codec]") {
    reader r(1000);
    const std::string wire = client_frame(0x81, std::string(5000, 'x'));
    const auto c = feed_all(r, std::string_view(wire).substr(0, 8));  // header and mask only
    REQUIRE(c.error);
    CHECK(c.error->code == close_too_big);
    // A 64-bit length with its top bit set is a protocol error, whatever the bound.
    reader r2(1000);
    std::string huge = "\x81\xFF\x80";
    huge += std::string(7, '\0');
    huge += "\x01\x02\x03\x04";
    const auto c2 = feed_all(r2, huge);
    REQUIRE(c2.error);
    CHECK(c2.error->code == close_protocol_error);
}

TEST_CASE("the caller can pause after an event and feed the rest later", "[gateway][ws_codec]") {
    reader r(1024);
    const std::string wire = text("one") + text("two") + text("three");
    std::vector<std::string> got;
    auto res = r.feed(wire, [&](event&& e) {
        got.push_back(e.payload);
        return false;  // one at a time
    });
    REQUIRE_FALSE(res.error);
    CHECK(got == std::vector<std::string>{"one"});
    CHECK(res.consumed == text("one").size());
    std::string_view rest = std::string_view(wire).substr(res.consumed);
    res = r.feed(rest, [&](event&& e) {
        got.push_back(e.payload);
        return true;
    });
    REQUIRE_FALSE(res.error);
    CHECK(res.consumed == rest.size());
    CHECK(got == std::vector<std::string>{"one", "two", "three"});
}

TEST_CASE("a reader gives its buffers back after a large message and after an error", "[gateway][ws_codec]") {
    reader r(1 << 20);
    const auto c = feed_all(r, text(std::string(100000, 'z')));
    REQUIRE(c.events.size() == 1);
    r.trim();
    CHECK(r.buffered_bytes() == 0);
    CHECK(r.heap_bytes() == 0);

    // 60 KB of a fragmented message, then a frame that breaks the protocol.
    reader r2(1 << 20);
    REQUIRE_FALSE(feed_all(r2, client_frame(0x01, std::string(60000, 'q'))).error);
    CHECK(r2.heap_bytes() >= 60000);
    REQUIRE(feed_all(r2, text("new message inside the fragmented one")).error);
    CHECK(r2.heap_bytes() == 0);
}
