#include <catch2/catch.hpp>
#include <monochat/bus/topics.hpp>

using namespace monochat::bus;

TEST_CASE("deliveries round-trip through their encoding", "[bus][topics]") {
    delivery d;
    d.kind = delivery_kind::world;
    d.user_ids = {1, 2, 18446744073709551615ULL};
    d.exclude_session = 7;
    d.exclude_user = 9;
    d.close_code = 4001;
    d.is_message = true;
    d.frame = std::string("{\"type\":\"message\"}\0tail", 23);
    auto back = decode_delivery(encode_delivery(d));
    REQUIRE(back.has_value());
    CHECK(back->kind == d.kind);
    CHECK(back->user_ids == d.user_ids);
    CHECK(back->exclude_session == 7);
    CHECK(back->exclude_user == 9);
    CHECK(back->close_code == 4001);
    CHECK(back->is_message);
    CHECK(back->frame == d.frame);
}

TEST_CASE("fan-out jobs round-trip", "[bus][topics]") {
    fanout_job j{"group:5", 5, 42, 9001, "frame"};
    auto jb = decode_fanout_job(encode_fanout_job(j));
    REQUIRE(jb.has_value());
    CHECK(jb->group_id == 5);
    CHECK(jb->exclude_session == 42);
    CHECK(jb->message_id == 9001);
    CHECK(jb->frame == "frame");
}

TEST_CASE("truncated payloads are refused, never read past their end", "[bus][topics]") {
    delivery d;
    d.user_ids = {1, 2, 3};
    const auto bytes = encode_delivery(d);
    for (std::size_t n = 0; n < 24 + 24; ++n) {
        CHECK_FALSE(decode_delivery(std::string_view(bytes).substr(0, n)).has_value());
    }
    CHECK_FALSE(decode_fanout_job("abc").has_value());
}
