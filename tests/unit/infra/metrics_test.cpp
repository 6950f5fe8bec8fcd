#include <catch2/catch.hpp>
#include <monochat/infra/metrics.hpp>
#include <thread>
#include <vector>

using monochat::infra::metrics_registry;

TEST_CASE("counters, gauges and histograms render in Prometheus text", "[infra][metrics]") {
    metrics_registry m;
    m.get_counter("t_requests_total", "Requests.", {{"route", "/a"}}).inc(3);
    m.get_counter("t_requests_total", "Requests.", {{"route", "/b\"x"}}).inc();
    m.get_gauge("t_open", "Open.").set(2);
    auto& h = m.get_histogram("t_latency_seconds", "Latency.", {0.1, 1});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    m.gauge_callback("t_depth", "Depth.", {{"queue", "q"}}, [] { return 7.0; });

    const auto text = m.render();
    CHECK_THAT(text, Catch::Contains("# TYPE t_requests_total counter\n"));
    CHECK_THAT(text, Catch::Contains("t_requests_total{route=\"/a\"} 3\n"));
    CHECK_THAT(text, Catch::Contains("t_requests_total{route=\"/b\\\"x\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("t_open 2\n"));
    CHECK_THAT(text, Catch::Contains("t_latency_seconds_bucket{le=\"0.1\"} 1\n"));
    CHECK_THAT(text, Catch::Contains("t_latency_seconds_bucket{le=\"1\"} 2\n"));
    CHECK_THAT(text, Catch::Contains("t_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    CHECK_THAT(text, Catch::Contains("t_latency_seconds_count 3\n"));
    CHECK_THAT(text, Catch::Contains("t_depth{queue=\"q\"} 7\n"));
}

TEST_CASE("the same name and labels give the same metric", "[infra][metrics]") {
    metrics_registry m;
    auto& a = m.get_counter("t_total", "x", {{"k", "v"}});
    auto& b = m.get_counter("t_total", "x", {{"k", "v"}});
    CHECK(&a == &b);
    CHECK_THROWS(m.get_gauge("t_total", "x"));
}

TEST_CASE("counter increments from many threads are not lost", "[infra][metrics]") {
    metrics_registry m;
    auto& c = m.get_counter("t_total", "x");
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            for (int j = 0; j < 10000; ++j) {
                c.inc();
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(c.value() == 40000);
}

TEST_CASE("removed callbacks disappear from the output", "[infra][metrics]") {
    metrics_registry m;
    int owner = 0;
    m.gauge_callback("t_cb", "x", {}, [] { return 1.0; }, &owner);
    CHECK_THAT(m.render(), Catch::Contains("t_cb 1"));
    m.remove_callbacks(&owner);
    CHECK_THAT(m.render(), !Catch::Contains("t_cb 1"));
}
