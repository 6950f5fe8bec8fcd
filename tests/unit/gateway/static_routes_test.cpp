#include <monochat/gateway/static_routes.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>
#include <string>

using namespace monochat::gateway;

namespace {

const static_asset test_assets[] = {
    {"/index.html", "text/html; charset=utf-8", "<!doctype html>", "\"abc\""},
    {"/js/app.js", "text/javascript; charset=utf-8", "export {};", "\"def\""},
};

http_response serve(const router& r, http_method method, std::string path, std::string if_none_match = "") {
    http_request req;
    req.method = method;
    req.path = std::move(path);
    req.if_none_match = std::move(if_none_match);
    boost::asio::io_context ioc;
    auto fut = boost::asio::co_spawn(ioc, (*r.fallback())(req), boost::asio::use_future);
    ioc.run();
    return fut.get();
}

std::string header(const http_response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) {
            return v;
        }
    }
    return {};
}

}  // namespace

TEST_CASE("the web client is served from memory with its type, ETag and no-cache", "[gateway][static]") {
    router r;
    add_static_routes(r, test_assets);
    REQUIRE(r.fallback() != nullptr);

    auto root = serve(r, http_method::get, "/");
    CHECK(root.status == 200);
    CHECK(root.body == "<!doctype html>");
    CHECK(root.content_type == "text/html; charset=utf-8");
    CHECK(header(root, "ETag") == "\"abc\"");
    CHECK(header(root, "Cache-Control") == "no-cache");
    CHECK_FALSE(header(root, "Content-Security-Policy").empty());

    auto js = serve(r, http_method::get, "/js/app.js");
    CHECK(js.status == 200);
    CHECK(js.content_type == "text/javascript; charset=utf-8");
    CHECK(header(js, "Content-Security-Policy").empty());
}

TEST_CASE("a matching If-None-Match answers 304 without a body", "[gateway][static]") {
    router r;
    add_static_routes(r, test_assets);
    auto same = serve(r, http_method::get, "/index.html", "\"abc\"");
    CHECK(same.status == 304);
    CHECK(same.body.empty());
    CHECK(serve(r, http_method::get, "/index.html", "\"zzz\", W/\"abc\"").status == 304);
    CHECK(serve(r, http_method::get, "/index.html", "*").status == 304);
    CHECK(serve(r, http_method::get, "/index.html", "\"abcd\"").status == 200);
    CHECK(serve(r, http_method::get, "/index.html", "\"def\"").status == 200);
}

TEST_CASE("paths outside the embedded set are 404, traversal included", "[gateway][static]") {
    router r;
    add_static_routes(r, test_assets);
    for (const char* p : {"/nope", "/../index.html", "/js/../index.html", "//index.html", "/index.html/",
                          "/js", "/js/", "/etc/passwd", "/../../etc/passwd", ""}) {
        INFO(p);
        auto res = serve(r, http_method::get, p);
        CHECK(res.status == 404);
        CHECK(res.content_type == "application/json");
    }
}

TEST_CASE("only GET and HEAD are allowed on the client", "[gateway][static]") {
    router r;
    add_static_routes(r, test_assets);
    CHECK(serve(r, http_method::head, "/").status == 200);
    auto post = serve(r, http_method::post, "/");
    CHECK(post.status == 405);
    CHECK(header(post, "Allow") == "GET, HEAD");
}

TEST_CASE("the embedded client has an index page, its modules and its style sheet", "[gateway][static]") {
    const auto assets = web_client_assets();
    bool index = false;
    bool main_js = false;
    bool css = false;
    for (const auto& a : assets) {
        CHECK(a.path.front() == '/');
        CHECK(a.etag.size() == 22);
        index = index || (a.path == "/index.html" && a.content_type.starts_with("text/html") &&
                          a.body.find("/js/main.js") != std::string_view::npos);
        main_js = main_js || (a.path == "/js/main.js" && a.content_type.starts_with("text/javascript"));
        css = css || (a.path == "/css/app.css" && a.content_type.starts_with("text/css"));
    }
    CHECK(index);
    CHECK(main_js);
    CHECK(css);
}
