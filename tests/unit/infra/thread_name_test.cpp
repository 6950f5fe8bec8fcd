#include <catch2/catch.hpp>
#include <monochat/infra/thread_name.hpp>
#include <pthread.h>
#include <string>
#include <thread>

using monochat::infra::name_this_thread;

namespace {
std::string name_of_this_thread() {
    char buf[32] = {};
    if (pthread_getname_np(pthread_self(), buf, sizeof buf) != 0) {
        return "(unreadable)";
    }
    return buf;
}
}  // namespace

TEST_CASE("a thread names itself, cut to the 15 bytes Linux keeps", "[infra][threads]") {
    std::string short_name;
    std::string long_name;
    std::thread t([&] {
        name_this_thread("mc-indexer");
        short_name = name_of_this_thread();
        name_this_thread("mc-bus-downstream-and-more");
        long_name = name_of_this_thread();
    });
    t.join();
    CHECK(short_name == "mc-indexer");
    CHECK(long_name == "mc-bus-downstre");
}
