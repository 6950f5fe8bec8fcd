// The trace buffer: bounded, keyed by message id, cheap when off.

#include <catch2/catch.hpp>
#include <monochat/infra/message_traces.hpp>

using namespace monochat::infra;

TEST_CASE("a disabled trace buffer records nothing", "[infra][trace]") {
    message_traces t(0);
    CHECK_FALSE(t.enabled());
    t.begin(1, "abc", "group:1");
    t.add(1, trace_stage::stored, 5);
    CHECK(t.size() == 0);
    CHECK_FALSE(t.find(1).has_value());
    CHECK(t.trace_id_of(1).empty());
}

TEST_CASE("a trace keeps its events in order with the trace id", "[infra][trace]") {
    message_traces t(100);
    t.begin(42, "feedbeef", "group:7");
    t.add(42, trace_stage::received, 9);
    t.add(42, trace_stage::stored, 3);
    t.add(42, trace_stage::fanout, 2);
    t.add(42, trace_stage::pushed, 10, 100);
    t.add(42, trace_stage::pushed, 11, 101);
    t.add(43, trace_stage::stored, 1);  // never begun: ignored
    auto tr = t.find(42);
    REQUIRE(tr.has_value());
    CHECK(tr->trace_id == "feedbeef");
    CHECK(tr->conversation_id == "group:7");
    REQUIRE(tr->events.size() == 5);
    CHECK(tr->events[0].stage == trace_stage::received);
    CHECK(tr->events[1].a == 3);
    CHECK(tr->events[4].b == 101);
    CHECK(tr->events[0].at_us <= tr->events[4].at_us);
    CHECK(t.trace_id_of(42) == "feedbeef");
    CHECK_FALSE(t.find(43).has_value());
    CHECK(to_string(trace_stage::pushed) == "pushed");
}

TEST_CASE("the trace buffer drops the oldest messages past its capacity", "[infra][trace]") {
    message_traces t(32);
    for (std::uint64_t id = 1; id <= 1000; ++id) {
        t.begin(id, "t", "c");
    }
    CHECK(t.size() <= 32);
    CHECK(t.size() >= 16);
    CHECK(t.find(1000).has_value());
    CHECK_FALSE(t.find(1).has_value());
}

TEST_CASE("events past the per-message bound are counted, not kept", "[infra][trace]") {
    message_traces t(10, 3);
    t.begin(5, "t", "c");
    for (int i = 0; i < 10; ++i) {
        t.add(5, trace_stage::pushed, static_cast<std::uint64_t>(i));
    }
    auto tr = t.find(5);
    REQUIRE(tr.has_value());
    CHECK(tr->events.size() == 3);
    CHECK(tr->dropped_events == 7);
}

TEST_CASE("capacity is live: zero stops recording", "[infra][trace]") {
    message_traces t(10);
    t.begin(1, "t", "c");
    t.set_capacity(0);
    t.begin(2, "t", "c");
    CHECK_FALSE(t.find(2).has_value());
    t.set_capacity(10);
    t.begin(3, "t", "c");
    CHECK(t.find(3).has_value());
}

TEST_CASE("a share of pushes is recorded at once, within the event bound", "[infra][trace]") {
    message_traces t(100, 4);
    t.begin(42, "feedbeef", "group:7");
    t.add(42, trace_stage::stored, 3);
    const std::vector<std::pair<std::uint64_t, std::uint64_t>> reached{{10, 100}, {11, 101}, {12, 102},
                                                                       {13, 103}, {14, 104}};
    t.add_pushed(42, reached);
    t.add_pushed(43, reached);  // never begun: ignored
    auto tr = t.find(42);
    REQUIRE(tr.has_value());
    REQUIRE(tr->events.size() == 4);
    CHECK(tr->events[1].stage == trace_stage::pushed);
    CHECK(tr->events[1].a == 10);
    CHECK(tr->events[3].b == 102);
    CHECK(tr->dropped_events == 2);
    CHECK_FALSE(t.find(43).has_value());
}

TEST_CASE("one message in sample_every is traced, the same one in every layer", "[infra][trace]") {
    message_traces t(100);
    // Every message by default, and none when the buffer is off.
    CHECK(t.sampled(1));
    CHECK(t.sampled(2));
    t.set_capacity(0);
    CHECK_FALSE(t.sampled(1));
    t.set_capacity(100);

    t.set_sample_every(8);
    CHECK(t.sample_every() == 8);
    // Snowflake-like ids: a millisecond in the high bits, a running sequence in the low ones.
    std::size_t picked = 0;
    std::size_t picked_even = 0;
    constexpr std::size_t n = 64'000;
    for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint64_t id = ((1'700'000'000'000ULL + i / 64) << 22) | (i % 64);
        const bool s = t.sampled(id);
        CHECK(s == t.sampled(id));  // a pure function of the id
        picked += s ? 1 : 0;
        picked_even += (s && i % 2 == 0) ? 1 : 0;
    }
    // About one in eight, and not tied to the sequence's parity.
    CHECK(picked > n / 8 * 9 / 10);
    CHECK(picked < n / 8 * 11 / 10);
    CHECK(picked_even > picked * 4 / 10);
    CHECK(picked_even < picked * 6 / 10);

    t.set_sample_every(0);  // read as 1
    CHECK(t.sample_every() == 1);
    CHECK(t.sampled(12345));
}
