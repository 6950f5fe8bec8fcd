#include "gateway/ws_coalescing_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using monochat::gateway::coalescing_stream;
using socket_type = net::local::stream_protocol::socket;

namespace {

// A connected pair: the coalescing stream writes on one end, the test reads the other.
struct pair_fixture {
    net::io_context ioc;
    coalescing_stream<socket_type> stream{ioc};
    socket_type peer{ioc};

    pair_fixture() { net::local::connect_pair(stream.next_layer(), peer); }

    std::string read_exactly(std::size_t n) {
        std::string out(n, '\0');
        net::read(peer, net::buffer(out));
        return out;
    }

    // Flushes and runs the context until the flush completed; returns its error.
    boost::beast::error_code flush() {
        std::optional<boost::beast::error_code> result;
        stream.async_flush([&](boost::beast::error_code ec) { result = ec; });
        while (!result) {
            ioc.run_one();
        }
        ioc.restart();
        return *result;
    }
};

// Decodes one unmasked server frame: FIN+text opcode, then the payload length encoding.
std::string frame_payload(const std::string& bytes, std::size_t& pos) {
    REQUIRE(static_cast<unsigned char>(bytes[pos]) == 0x81);
    std::uint64_t len = static_cast<unsigned char>(bytes[pos + 1]);
    pos += 2;
    REQUIRE((len & 0x80) == 0);  // a server never masks
    if (len == 126) {
        len = (std::uint64_t{static_cast<unsigned char>(bytes[pos])} << 8) |
              static_cast<unsigned char>(bytes[pos + 1]);
        pos += 2;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) {
            len = (len << 8) | static_cast<unsigned char>(bytes[pos + static_cast<std::size_t>(i)]);
        }
        pos += 8;
    }
    auto out = bytes.substr(pos, len);
    pos += len;
    return out;
}

}  // namespace

TEST_CASE("appended messages go out as text frames in one flush, each length encoding right",
          "[gateway][coalescing]") {
    pair_fixture f;
    const std::vector<std::string> messages{"hello", std::string(200, 'm'), std::string(70000, 'x'),
                                            std::string(125, 'a'), std::string(126, 'b')};
    std::size_t total = 0;
    for (const auto& m : messages) {
        REQUIRE(f.stream.append_text(m));
        total += m.size() + (m.size() < 126 ? 2 : m.size() <= 0xffff ? 4 : 10);
    }
    CHECK(f.stream.buffered_bytes() == total);
    // The peer reads concurrently: 70 KB is more than a socket buffer may take at once.
    std::string received;
    std::thread reader([&] { received = f.read_exactly(total); });
    CHECK_FALSE(f.flush());
    reader.join();
    std::size_t pos = 0;
    for (const auto& m : messages) {
        CHECK(frame_payload(received, pos) == m);
    }
    CHECK(pos == received.size());
    CHECK(f.stream.buffered_bytes() == 0);
}

TEST_CASE("trim gives the write buffers back only when nothing is waiting to be written",
          "[gateway][coalescing]") {
    pair_fixture f;
    REQUIRE(f.stream.append_text(std::string(300, 'a')));
    REQUIRE_FALSE(f.flush());
    CHECK(f.stream.held_bytes() > 0);  // kept for the next write
    f.stream.trim();
    CHECK(f.stream.held_bytes() == 0);

    // Appended but not flushed: trim keeps it, and it is still written whole afterwards.
    REQUIRE(f.stream.append_text("still here"));
    f.stream.trim();
    CHECK(f.stream.buffered_bytes() == 12);
    REQUIRE_FALSE(f.flush());
    const auto both = f.read_exactly(304 + 12);
    std::size_t pos = 0;
    CHECK(frame_payload(both, pos) == std::string(300, 'a'));
    CHECK(frame_payload(both, pos) == "still here");
}

TEST_CASE("after the peer is gone a flush fails and further frames are refused",
          "[gateway][coalescing]") {
    pair_fixture f;
    f.peer.close();
    REQUIRE(f.stream.append_text(std::string(1000, 'z')));
    auto ec = f.flush();
    // The first write may still land in the socket buffer; the next one cannot.
    if (!ec) {
        REQUIRE(f.stream.append_text("again"));
        ec = f.flush();
    }
    CHECK(ec);
    CHECK_FALSE(f.stream.append_text("refused"));
    // A flush after the failure completes at once with the same error.
    CHECK(f.flush() == ec);
}
