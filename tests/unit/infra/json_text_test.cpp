#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <monochat/infra/json_text.hpp>
#include <nlohmann/json.hpp>
#include <string>

using namespace monochat;

TEST_CASE("append_decimal writes what std::to_string writes, at both ends of the range",
          "[infra][json]") {
    for (const std::uint64_t v : {std::uint64_t{0}, std::uint64_t{7}, std::uint64_t{1795000000123},
                                  std::numeric_limits<std::uint64_t>::max()}) {
        std::string out = "x";
        infra::append_decimal(out, v);
        CHECK(out == "x" + std::to_string(v));
    }
    for (const std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1795000000123},
                                 std::numeric_limits<std::int64_t>::min(),
                                 std::numeric_limits<std::int64_t>::max()}) {
        std::string out;
        infra::append_decimal(out, v);
        CHECK(out == std::to_string(v));
    }
}

TEST_CASE("append_json_string escapes as nlohmann's dump does", "[infra][json]") {
    const std::string s = "q\"uote\\back\nline\r\t\b\f\x01\x1f\x7f/\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
    std::string out;
    infra::append_json_string(out, s);
    CHECK(out == nlohmann::json(s).dump());
}
