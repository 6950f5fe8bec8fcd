// Conversations: GET /conversations, POST /conversations/dm, PATCH /conversations/{cid} (the
// caller's mute), POST /conversations/{cid}/read.
// History, sending, online counts and readers belong to the messaging routes.

#include <algorithm>
#include <monochat/logic/conversations.hpp>

#include "gateway/json_util.hpp"
#include "gateway/rest_common.hpp"

namespace monochat::gateway {

namespace {

using json_util::json;
using json_util::object_writer;

struct peer {
    std::uint64_t user_id = 0;

    static result<peer> from_json(const json& j) {
        auto id = json_util::required_id(j, "user_id");
        if (!id) {
            return id.error();
        }
        return peer{*id};
    }
};

struct mute {
    std::uint64_t muted_until = 0;

    static result<mute> from_json(const json& j) {
        auto until = json_util::required_unsigned(j, "muted_until");
        if (!until) {
            return until.error();
        }
        return mute{*until};
    }
};

struct read_position {
    std::uint64_t seq = 0;

    static result<read_position> from_json(const json& j) {
        auto seq = json_util::required_unsigned(j, "seq");
        if (!seq) {
            return seq.error();
        }
        return read_position{*seq};
    }
};

}  // namespace

void add_conversation_routes(rest::endpoints<logic::identity>& api, const rest_services& services) {
    logic::conversations* const conversations = &services.conversations;

    api.add(http_method::get, "/conversations",
            [conversations](logic::identity who, const rest::request&) -> rest::reply {
                co_return rest::answer(
                    co_await conversations->list(std::move(who)), 200, [](const auto& list) {
                        return object_writer().array("conversations", json_items(list)).finish();
                    });
            });

    api.add<peer>(http_method::post, "/conversations/dm",
                  [conversations](logic::identity who, const rest::request&, peer b) -> rest::reply {
                      co_return rest::answer(
                          co_await conversations->direct_id(std::move(who), b.user_id), 200,
                          [](const std::string& cid) {
                              return object_writer().string("conversation_id", cid).finish();
                          });
                  });

    api.add<mute>(
        http_method::patch, "/conversations/{cid}",
        [conversations](logic::identity who, const rest::request& r, mute b) -> rest::reply {
            auto ref = logic::parse_conversation_id(r.text("cid"));
            if (!ref) {
                co_return ref.error();
            }
            // Past the largest accepted time: still out of range after the narrowing.
            const auto wanted = static_cast<std::int64_t>(std::min<std::uint64_t>(
                b.muted_until, static_cast<std::uint64_t>(logic::max_muted_until_ms) + 1));
            const std::string cid = ref->id;
            co_return rest::answer(
                co_await conversations->set_muted_until(std::move(who), std::move(*ref), wanted),
                200, [&cid](std::int64_t stored) {
                    return object_writer()
                        .string("conversation_id", cid)
                        .raw("muted_until", std::to_string(stored))
                        .finish();
                });
        });

    api.add<read_position>(
        http_method::post, "/conversations/{cid}/read",
        [conversations](logic::identity who, const rest::request& r,
                        read_position b) -> rest::reply {
            auto ref = logic::parse_conversation_id(r.text("cid"));
            if (!ref) {
                co_return ref.error();
            }
            auto moved = co_await conversations->mark_read(std::move(who), std::move(*ref), b.seq);
            if (!moved) {
                co_return moved.error();
            }
            co_return http_response::no_content();
        });
}

}  // namespace monochat::gateway
