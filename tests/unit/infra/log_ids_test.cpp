#include <catch2/catch.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/log.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

namespace mlog = monochat::infra::log;

namespace {
std::string captured;
void capture(std::string_view line) { captured += line; }
}  // namespace

TEST_CASE("logfmt lines carry time, level, module, message and fields", "[infra][log]") {
    captured.clear();
    mlog::set_sink(capture);
    mlog::set_format(mlog::format::logfmt);
    mlog::set_level(mlog::level::info);
    mlog::info("gateway", "hello world", {{"trace", "abc"}, {"n", 42}, {"q", "a \"b\"\n"}});
    mlog::debug("gateway", "hidden");
    mlog::set_sink(nullptr);
    CHECK_THAT(captured, Catch::StartsWith("ts=20"));
    CHECK_THAT(captured, Catch::Contains(" level=info module=gateway msg=\"hello world\" trace=abc n=42 q=\"a \\\"b\\\"\\n\"\n"));
    CHECK_THAT(captured, !Catch::Contains("hidden"));
}

TEST_CASE("json lines parse as JSON", "[infra][log]") {
    captured.clear();
    mlog::set_sink(capture);
    mlog::set_format(mlog::format::json);
    mlog::warn("storage", "disk \"full\"", {{"bytes", 7}});
    mlog::set_sink(nullptr);
    mlog::set_format(mlog::format::logfmt);
    const auto j = nlohmann::json::parse(captured);
    CHECK(j["level"] == "warn");
    CHECK(j["module"] == "storage");
    CHECK(j["msg"] == "disk \"full\"");
    CHECK(j["bytes"] == "7");
}

TEST_CASE("snowflake ids are unique and increasing, also within one millisecond", "[infra][ids]") {
    monochat::infra::manual_clock clock;
    monochat::infra::id_generator ids(clock, 3);
    std::uint64_t last = 0;
    for (int i = 0; i < 10000; ++i) {  // more than 4096 in one millisecond
        const auto id = ids.next();
        REQUIRE(id > last);
        last = id;
    }
    clock.advance(std::chrono::milliseconds(5000));
    const auto later = ids.next();
    CHECK(later > last);
    CHECK(monochat::infra::id_generator::time_of(later) >= clock.now_ms());
}

TEST_CASE("ids from several threads never repeat", "[infra][ids]") {
    monochat::infra::system_clock clock;
    monochat::infra::id_generator ids(clock, 1);
    std::vector<std::vector<std::uint64_t>> per(4);
    std::vector<std::thread> threads;
    for (auto& v : per) {
        threads.emplace_back([&] {
            for (int i = 0; i < 5000; ++i) {
                v.push_back(ids.next());
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    std::set<std::uint64_t> all;
    for (auto& v : per) {
        all.insert(v.begin(), v.end());
    }
    CHECK(all.size() == 20000);
}
