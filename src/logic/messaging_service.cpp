#include <monochat/logic/messaging.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <monochat/bus/delivery_guard.hpp>
#include <monochat/bus/delivery_sink.hpp>
#include <monochat/bus/message_bus.hpp>
#include <monochat/bus/topics.hpp>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/message_traces.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/delivery_router.hpp>
#include <monochat/logic/files.hpp>
#include <monochat/logic/message_format.hpp>
#include <monochat/logic/validation.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "logic/emoji.hpp"
#include "logic/send_order.hpp"
#include "logic/token_buckets.hpp"
#include "logic/typing_throttle.hpp"

namespace monochat::logic {

namespace net = boost::asio;
using json = nlohmann::json;

namespace {

constexpr std::size_t max_client_msg_id_bytes = 64;
constexpr std::size_t max_mentions = 50;
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Reading a conversation for the edits of a target that does not list them (legacy_edits):
// page size, and how far past the target's last edit time the reading goes, since a message's
// ts is taken before its seq and two sends may commit out of ts order by that much.
constexpr std::size_t legacy_scan_page = 1000;
constexpr std::int64_t legacy_scan_slack_ms = 10000;

// A body as it is stored: only the fields of its type, in a fixed order. Operations (edit,
// recall, reaction) also name their target.
struct checked_body {
    std::string json;
    std::uint64_t target_seq = 0;
};

result<checked_body> check_body(const message_body& b, std::int64_t max_text_bytes) {
    const auto text_field = [&]() -> result<std::string_view> {
        if (!b.text || b.text->empty()) {
            return make_error(errc::invalid_argument, "body.text is required and must not be empty");
        }
        if (b.text->size() > static_cast<std::size_t>(max_text_bytes)) {
            return make_error(errc::too_large, "body.text is longer than " +
                                                   std::to_string(max_text_bytes) + " bytes");
        }
        // Text parsed from JSON always is; the stored body is spliced into frames as it is.
        if (!is_valid_utf8(*b.text)) {
            return make_error(errc::invalid_argument, "body.text must be valid UTF-8");
        }
        return std::string_view(*b.text);
    };
    const auto target = [&]() -> result<std::uint64_t> {
        if (!b.target_seq || *b.target_seq == 0) {
            return make_error(errc::invalid_argument, "body.target_seq is required (a seq, 1 or more)");
        }
        return *b.target_seq;
    };
    if (b.type == "text") {
        auto text = text_field();
        if (!text) {
            return text.error();
        }
        if (b.reply_to && *b.reply_to == 0) {
            return make_error(errc::invalid_argument, "body.reply_to must be a seq (1 or more)");
        }
        std::vector<std::uint64_t> ids;
        if (b.mentions) {
            if (b.mentions->size() > max_mentions) {
                return make_error(errc::invalid_argument, "body.mentions has more than 50 users");
            }
            std::unordered_set<std::uint64_t> seen;
            for (auto id : *b.mentions) {
                if (seen.insert(id).second) {
                    ids.push_back(id);
                }
            }
        }
        return checked_body{text_body_json(*text, b.reply_to, b.mentions ? &ids : nullptr), 0};
    }
    if (b.type == "file") {
        // The stored body is completed by send() with the file's metadata once the file is
        // known to be the sender's (file_sharing::share).
        if (!b.file_id || *b.file_id == 0) {
            return make_error(errc::invalid_argument, "body.file_id is required");
        }
        if (b.caption && b.caption->size() > static_cast<std::size_t>(max_text_bytes)) {
            return make_error(errc::too_large, "body.caption is longer than " +
                                                   std::to_string(max_text_bytes) + " bytes");
        }
        return checked_body{{}, 0};
    }
    if (b.type == "edit") {
        auto t = target();
        auto text = text_field();
        if (!t) {
            return t.error();
        }
        if (!text) {
            return text.error();
        }
        return checked_body{dump({{"type", "edit"}, {"target_seq", *t}, {"text", std::string(*text)}}), *t};
    }
    if (b.type == "recall") {
        auto t = target();
        if (!t) {
            return t.error();
        }
        return checked_body{dump({{"type", "recall"}, {"target_seq", *t}}), *t};
    }
    if (b.type == "reaction") {
        auto t = target();
        if (!t) {
            return t.error();
        }
        if (!b.emoji || !is_single_emoji(*b.emoji)) {
            return make_error(errc::invalid_argument,
                              "body.emoji must be one emoji (at most 32 bytes of UTF-8)");
        }
        if (!b.op || (*b.op != "add" && *b.op != "remove")) {
            return make_error(errc::invalid_argument, "body.op must be add or remove");
        }
        return checked_body{
            dump({{"type", "reaction"}, {"target_seq", *t}, {"emoji", *b.emoji}, {"op", *b.op}}), *t};
    }
    return make_error(errc::invalid_argument,
                      "body.type must be text, file, edit, recall or reaction");
}

// A `file` message as stored: the client's fields and the file's metadata under `file`.
std::string file_body(std::uint64_t file_id, const std::optional<std::string>& caption,
                      const std::string& meta) {
    json out = {{"type", "file"}, {"file_id", std::to_string(file_id)}};
    if (caption && !caption->empty()) {
        out["caption"] = *caption;
    }
    out["file"] = json::parse(meta, nullptr, false);
    return dump(out);
}

// What an operation may do to its target, decided on the storage writer thread against the
// target's current state, so that concurrent operations apply in log order.
struct operation_rules {
    std::string type;  // edit, recall, reaction
    std::uint64_t actor = 0;
    std::int64_t now_ms = 0;
    std::int64_t edit_window_ms = 0;
    std::int64_t recall_window_ms = 0;
    bool actor_moderates = false;  // owner or admin of the group
    std::string text;
    std::int64_t max_edits = 0;  // limits.max_edits_per_message

    result<std::string> operator()(const storage::stored_message& target) const {
        return (*this)(target, 0);
    }

    // `op_seq`: the seq the operation gets (the log's update_target_at), which an edit records
    // in its target's state so that a recall finds every edit (edits_of).
    result<std::string> operator()(const storage::stored_message& target,
                                   std::uint64_t op_seq) const {
        json body = json::parse(target.body, nullptr, false);
        const std::string target_type = body.is_object() ? body.value("type", "") : "";
        if (target_type != "text" && (target_type != "file" || type == "edit")) {
            return make_error(errc::invalid_argument,
                              target_type == "file"
                                  ? "a file message cannot be edited"
                                  : "only text and file messages can be edited, recalled or reacted to");
        }
        json state = target.state.empty() ? json::object() : json::parse(target.state, nullptr, false);
        if (!state.is_object()) {
            state = json::object();
        }
        const bool recalled = state.value("recalled", false);
        const bool own = target.sender_id == actor;
        if (type == "edit") {
            if (!own) {
                return make_error(errc::forbidden, "only the sender may edit a message");
            }
            if (recalled) {
                return make_error(errc::forbidden, "a recalled message cannot be edited");
            }
            if (now_ms - target.ts_ms > edit_window_ms) {
                return make_error(errc::forbidden, "the edit window of this message has passed");
            }
            json& edits = state["edits"];
            if (!edits.is_array()) {
                edits = json::array();
            }
            if (static_cast<std::int64_t>(edits.size()) >= max_edits) {
                return make_error(errc::conflict, "this message has been edited " +
                                                      std::to_string(edits.size()) +
                                                      " times, the most allowed");
            }
            edits.push_back(op_seq);
            state["text"] = text;
            state["edited_at"] = now_ms;
        } else if (type == "recall") {
            if (!actor_moderates) {
                if (!own) {
                    return make_error(errc::forbidden, "only the sender or a group owner or admin may recall");
                }
                if (now_ms - target.ts_ms > recall_window_ms) {
                    return make_error(errc::forbidden, "the recall window of this message has passed");
                }
            }
            state = json{{"recalled", true}};
        } else {
            if (recalled) {
                return make_error(errc::forbidden, "a recalled message takes no reactions");
            }
            // The reaction itself is applied by the log (append_request::reaction): one index
            // entry per reaction, so its cost does not grow with the target's reactions. The
            // state stays as it is, which the log takes as "nothing to rewrite".
            return target.state;
        }
        return dump(state);
    }
};

// The seqs of a target's edits, as operation_rules recorded them: a recall rewrites them too.
std::vector<std::uint64_t> edits_of(const storage::stored_message& target) {
    std::vector<std::uint64_t> out;
    const json state = json::parse(target.state, nullptr, false);
    if (!state.is_object()) {
        return out;
    }
    const auto edits = state.find("edits");
    if (edits == state.end() || !edits->is_array()) {
        return out;
    }
    for (const auto& seq : *edits) {
        if (seq.is_number_unsigned()) {
            out.push_back(seq.get<std::uint64_t>());
        }
    }
    return out;
}

// edits_of, plus edits found by reading the log (legacy_edits). Built here rather than as a
// lambda inside the send coroutine (see rocksdb_message_log.cpp on g++ 12 and such objects).
std::function<std::vector<std::uint64_t>(const storage::stored_message&)> edits_and(
    std::vector<std::uint64_t> found) {
    return [found = std::move(found)](const storage::stored_message& target) {
        auto seqs = edits_of(target);
        seqs.insert(seqs.end(), found.begin(), found.end());
        return seqs;
    };
}

// A recall (or an admin's delete) removes text for good (protocol 1.1): from the stored body of
// the target and of each of its edits, not only from what history shows. Each is marked
// recalled, so history and sync show it without text.
void remove_text(storage::stored_message& m) {
    json body = json::parse(m.body, nullptr, false);
    if (body.is_object()) {
        body.erase("text");
        // A file message's caption and the file's name go with it (the file itself goes once
        // no message shares it: file_sharing::unshare).
        body.erase("caption");
        body.erase("file");
        m.body = dump(body);
    }
    json state = m.state.empty() ? json::object() : json::parse(m.state, nullptr, false);
    if (!state.is_object()) {
        state = json::object();
    }
    state.erase("text");
    state.erase("edits");
    state["recalled"] = true;
    m.state = dump(state);
}

// The file a recall's target shared, noted on the writer thread as the recall applies.
struct recalled_file {
    std::uint64_t file_id = 0;
    std::uint64_t message_id = 0;
};

std::function<result<std::string>(const storage::stored_message&)> noting_file(
    operation_rules rules, std::shared_ptr<recalled_file> out) {
    return [rules = std::move(rules), out](const storage::stored_message& target) {
        auto state = rules(target);
        if (state) {
            const json body = json::parse(target.body, nullptr, false);
            if (body.is_object() && body.value("type", "") == "file") {
                const auto id = body.find("file_id");
                if (id != body.end() && id->is_string()) {
                    if (auto parsed = parse_id(id->get<std::string>(), "file_id")) {
                        out->file_id = *parsed;
                        out->message_id = target.message_id;
                    }
                }
            }
        }
        return state;
    };
}

send_result to_send_result(storage::stored_message m, bool duplicate) {
    send_result r;
    r.message_id = m.message_id;
    r.conversation_id = m.conversation_id;
    r.seq = m.seq;
    r.ts = m.ts_ms;
    r.client_msg_id = m.client_msg_id;
    r.duplicate = duplicate;
    r.message = std::move(m);
    return r;
}

class messaging_impl final : public messaging_service {
public:
    explicit messaging_impl(messaging_dependencies d)
        : d_(d),
          pool_(2),
          limiter_(d.clock),
          typing_(d.clock),
          sent_(d.metrics.get_counter("monochat_messages_sent_total", "Messages stored and acknowledged.")),
          duplicates_(d.metrics.get_counter("monochat_messages_duplicate_total",
                                            "Sends answered from the idempotency index.")),
          rate_limited_(d.metrics.get_counter("monochat_rate_limited_total", "Requests refused by a rate limit.",
                                              {{"limit", "send"}})),
          ack_latency_(d.metrics.get_histogram("monochat_message_ack_latency_seconds",
                                               "From receiving a send to its acknowledgement.",
                                               infra::latency_buckets())),
          own_guard_(d.guard != nullptr ? nullptr : std::make_unique<bus::delivery_guard>()),
          guard_(d.guard != nullptr ? *d.guard : *own_guard_) {}

    ~messaging_impl() override { stop(); }

    void start() override {
        const auto capacity = static_cast<std::size_t>(d_.live.get()->fanout.queue_capacity);
        // Typing, presence and the tests' topic sink.
        d_.bus.declare(bus::downstream_topic, {4, capacity});
        if (d_.sink == nullptr) {
            own_sink_ = bus::make_topic_sink(d_.bus, std::string(bus::downstream_topic),
                                             [this] { return publish_wait(); });
        }
        router_ = std::make_unique<delivery_router>(delivery_router_dependencies{
            d_.sink != nullptr ? *d_.sink : *own_sink_, d_.bus, guard_, d_.members, d_.live,
            d_.metrics});
        // Inline on the storage writer thread, after the batch is durable, in commit order.
        d_.log.add_commit_listener([this](const storage::commit_event& e) {
            if (!stopped_) {
                router_->route(e);
            }
        });
    }

    void stop() override {
        stopped_ = true;
        pool_.join();
    }

    net::awaitable<result<send_result>> send(send_request req) override {
        const auto started = std::chrono::steady_clock::now();
        const auto cfg = d_.live.get();
        if (stopped_) {
            co_return make_error(errc::unavailable, "server is stopping");
        }
        if (req.client_msg_id.empty() || req.client_msg_id.size() > max_client_msg_id_bytes) {
            co_return make_error(errc::invalid_argument, "client_msg_id must be 1 to 64 bytes");
        }
        auto conv = parse_conversation_id(req.conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        auto body = check_body(req.body, cfg->limits.max_text_bytes);
        if (!body) {
            co_return body.error();
        }
        if (req.as_admin && (req.body.type != "recall" || body->target_seq == 0)) {
            co_return make_error(errc::invalid_argument, "an admin may only recall");
        }
        // Everything above is synchronous, so sends take their places in the order the
        // connection sent them; from here on this send may suspend.
        auto turn = order_.take(req.session_id, conv->id);
        co_await turn.wait();
        if (!req.as_admin) {
            // From the caches without waiting when they hold the answer (the common case).
            if (auto fast = d_.access.try_can_send(req.who, *conv)) {
                if (!*fast) {
                    co_return fast->error();
                }
            } else if (auto ok = co_await d_.access.can_send(req.who, *conv); !ok) {
                co_return ok.error();
            }
        }
        std::optional<operation_rules> rules;
        if (body->target_seq != 0) {
            rules = operation_rules{req.body.type,
                                    req.who.user_id,
                                    d_.clock.now_ms(),
                                    cfg->policy.edit_window_s * 1000,
                                    cfg->policy.recall_window_s * 1000,
                                    false,
                                    req.body.text.value_or("")};
            if (req.body.type == "recall" && conv->kind == conversation_kind::group) {
                auto role = co_await d_.groups.member_role_of(conv->group_id, req.who.user_id);
                rules->actor_moderates = role && *role && **role != storage::member_role::member;
            }
            if (req.as_admin) {
                rules->actor_moderates = true;
            }
            rules->max_edits = cfg->limits.max_edits_per_message;
        }
        if (req.body.reply_to && *req.body.reply_to > d_.log.last_seq(conv->id)) {
            co_return make_error(errc::not_found, "reply_to names a message that does not exist");
        }
        // Retries are not counted: a refused send that turns out to be a retry is answered
        // from the idempotency index below; an accepted one that turns out to be a retry gets
        // its token back.
        auto wait = req.as_admin ? 0.0
                                 : limiter_.take(req.who.user_id, cfg->limits.send_rate,
                                                 static_cast<double>(cfg->limits.send_burst));
        // Slow mode in world counts new messages only (not edits, recalls or reactions).
        world_slot slot;
        if (wait <= 0 && !req.as_admin && cfg->policy.world_slow_mode_s > 0 &&
            conv->kind == conversation_kind::world && body->target_seq == 0) {
            slot = co_await d_.access.take_world_slot(req.who);
            if (slot.wait_s > 0) {
                limiter_.refund(req.who.user_id);
                wait = slot.wait_s;
            }
        }
        if (wait > 0) {
            // A retry of a stored message is answered even over the limit.
            storage::append_request lookup;
            lookup.conversation_id = conv->id;
            lookup.sender_id = req.who.user_id;
            lookup.client_msg_id = req.client_msg_id;
            lookup.lookup_only = true;
            if (auto stored = co_await d_.log.append(std::move(lookup)); stored && stored->duplicate) {
                duplicates_.inc();
                co_return to_send_result(std::move(stored->message), true);
            }
            rate_limited_.inc();
            auto e = make_error(errc::rate_limited, "sending too fast");
            e.retry_after_s = static_cast<int>(std::ceil(wait));
            co_return e;
        }

        storage::append_request a;
        a.conversation_id = conv->id;
        a.sender_id = req.who.user_id;
        a.client_msg_id = req.client_msg_id;
        a.message_id = d_.ids.next();
        std::uint64_t shared_file = 0;
        if (req.body.type == "file") {
            // The share is recorded before the append, so that the message never names a file
            // its readers cannot fetch; a failed append or a retry takes it back below.
            if (d_.files == nullptr) {
                co_return make_error(errc::invalid_argument, "files are not enabled");
            }
            auto meta = co_await d_.files->share(req.who.user_id, *req.body.file_id, conv->id,
                                                 a.message_id);
            if (!meta) {
                co_return meta.error();
            }
            shared_file = *req.body.file_id;
            body->json = file_body(shared_file, req.body.caption, *meta);
        }
        a.ts_ms = rules ? rules->now_ms : d_.clock.now_ms();
        a.body = std::move(body->json);
        a.target_seq = body->target_seq;
        a.record_sent = true;
        a.origin = req.session_id;  // the router's: this session gets the ack, not a push
        a.direct_peer = direct_peer_of(req.who, *conv);
        std::shared_ptr<recalled_file> recalled;
        if (rules) {
            if (req.body.type == "edit") {
                a.update_target_at = std::move(*rules);
            } else {
                if (req.body.type == "recall") {
                    auto legacy = co_await legacy_edits(conv->id, body->target_seq);
                    if (!legacy) {
                        co_return legacy.error();
                    }
                    a.related = edits_and(std::move(*legacy));
                    a.rewrite = remove_text;
                    recalled = std::make_shared<recalled_file>();
                    a.update_target = noting_file(std::move(*rules), recalled);
                } else {
                    a.update_target = std::move(*rules);
                }
            }
        }
        if (req.body.type == "reaction") {
            a.reaction = storage::reaction_change{
                *req.body.emoji, req.body.op.value_or("add") == "add",
                static_cast<std::size_t>(cfg->limits.max_reaction_kinds)};
        }
        // A recall takes the target's reactions with it (one range delete in the log).
        a.clear_reactions = req.body.type == "recall";
        const auto message_id = a.message_id;
        // The trace buffer follows a sampled message from here (no lock for the others).
        auto& traces = infra::traces();
        if (traces.sampled(message_id)) {
            traces.begin(message_id, req.trace_id, conv->id);
            traces.add(message_id, infra::trace_stage::received, req.who.user_id);
        }
        auto r = co_await append_then_release(std::move(a), turn);
        if (shared_file != 0 && (!r || r->duplicate)) {
            co_await d_.files->unshare(shared_file, message_id, false);
        }
        if (!r) {
            d_.access.give_back_world_slot(req.who, slot);
            co_return r.error();
        }
        if (recalled && recalled->file_id != 0 && d_.files != nullptr) {
            // Before the ack, so that once the recall is acknowledged the file is gone when
            // this was its last sharing message.
            co_await d_.files->unshare(recalled->file_id, recalled->message_id, true);
        }
        if (r->duplicate) {
            d_.access.give_back_world_slot(req.who, slot);
            limiter_.refund(req.who.user_id);
            duplicates_.inc();
            co_return to_send_result(std::move(r->message), true);
        }
        sent_.inc();
        ack_latency_.observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
        storage::sent_record own{r->message.message_id, r->message.sender_id,
                                 r->message.conversation_id, r->message.seq, r->message.ts_ms,
                                 direct_peer_of(req.who, *conv)};
        if (d_.sent != nullptr) {
            d_.sent->record(std::move(own));  // memory only: see record_own_send
        } else {
            co_await record_own_send(std::move(own));
        }
        after_send(req.who, *conv, r->message, req.body);
        if (infra::log::enabled(infra::log::level::debug)) {
            infra::log::debug("logic", "message stored",
                              {{"trace", req.trace_id}, {"conversation", conv->id},
                               {"seq", r->message.seq}, {"message_id", r->message.message_id}});
        }
        co_return to_send_result(std::move(r->message), false);
    }

    net::awaitable<result<history_page>> history(identity who, history_request req) override {
        auto conv = parse_conversation_id(req.conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (req.after_seq && req.before_seq) {
            co_return make_error(errc::invalid_argument, "after_seq and before_seq exclude each other");
        }
        if (auto ok = co_await d_.access.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        result<storage::read_page> page = storage::read_page{};
        if (req.after_seq) {
            page = co_await d_.log.read_after(conv->id, *req.after_seq, req.limit);
        } else if (req.before_seq) {
            page = co_await d_.log.read_before(conv->id, *req.before_seq, req.limit);
        } else {
            page = co_await d_.log.read_latest(conv->id, req.limit);
        }
        if (!page) {
            co_return page.error();
        }
        auto viewer = co_await view_reactions(d_.log, who.user_id, page->messages);
        if (!viewer) {
            co_return viewer.error();
        }
        history_page out;
        out.conversation_id = conv->id;
        out.has_more = page->has_more;
        out.messages.reserve(page->messages.size());
        for (const auto& m : page->messages) {
            out.messages.push_back(message_json(m, &*viewer));
        }
        co_return out;
    }

    net::awaitable<result<reaction_users_page>> reaction_users(identity who,
                                                               reaction_users_request req) override {
        auto conv = parse_conversation_id(req.conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (!is_single_emoji(req.emoji)) {
            co_return make_error(errc::invalid_argument,
                                 "emoji must be one emoji (at most 32 bytes of UTF-8)");
        }
        if (req.limit == 0) {
            co_return make_error(errc::invalid_argument, "limit must be a positive integer");
        }
        if (auto ok = co_await d_.access.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        if (req.seq == 0 || req.seq > d_.log.last_seq(conv->id)) {
            co_return make_error(errc::not_found, "no message with this seq");
        }
        auto page = co_await d_.log.reaction_users(conv->id, req.seq, std::move(req.emoji),
                                                   req.after_user_id, req.limit);
        if (!page) {
            co_return page.error();
        }
        reaction_users_page out;
        out.user_ids = std::move(page->user_ids);
        if (page->has_more && !out.user_ids.empty()) {
            out.next = out.user_ids.back();
        }
        co_return out;
    }

    net::awaitable<status> typing(identity who, std::string conversation_id) override {
        auto conv = parse_conversation_id(conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (auto ok = co_await d_.access.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        // Protocol 1.1: never in world (every subscriber would get every keystroke hint), and
        // at most once per interval per user and conversation; the rest is dropped quietly.
        if (conv->kind == conversation_kind::world) {
            co_return status{};
        }
        const auto cfg = d_.live.get();
        if (!typing_.admit(who.user_id, conv->id, cfg->limits.typing_interval_ms,
                           static_cast<std::size_t>(cfg->limits.typing_entries))) {
            co_return status{};
        }
        bus::delivery d;
        d.exclude_user = who.user_id;
        d.frame = dump({{"type", "typing"},
                        {"conversation_id", conv->id},
                        {"user_id", std::to_string(who.user_id)}});
        switch (conv->kind) {
            case conversation_kind::world: co_return status{};
            case conversation_kind::direct:
                d.user_ids = {who.user_id == conv->low ? conv->high : conv->low};
                break;
            case conversation_kind::group: {
                // Typing in a group above the fan-out threshold would cost a shard walk per
                // keystroke for a hint nobody reads among thousands: it is not pushed.
                const auto threshold = static_cast<std::size_t>(cfg->fanout.large_group_threshold);
                auto ids = co_await d_.groups.member_ids(conv->group_id, 0, threshold + 1);
                if (!ids) {
                    co_return ids.error();
                }
                if (ids->size() > threshold) {
                    co_return status{};
                }
                d.user_ids = std::move(*ids);
                break;
            }
        }
        // Typing is a hint: when the bus is full it is dropped rather than waited for.
        (void)d_.bus.try_publish(bus::downstream_topic, conv->id,
                                 std::make_shared<const std::string>(bus::encode_delivery(d)));
        co_return status{};
    }

    net::awaitable<result<std::uint64_t>> online_count(identity who,
                                                       std::string conversation_id) override {
        auto conv = parse_conversation_id(conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (auto ok = co_await d_.access.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        switch (conv->kind) {
            case conversation_kind::world: co_return d_.presence.online_users();
            case conversation_kind::direct:
                co_return std::uint64_t{d_.presence.is_online(conv->low)} +
                    std::uint64_t{d_.presence.is_online(conv->high)};
            case conversation_kind::group: {
                std::uint64_t n = 0;
                std::uint64_t after = 0;
                for (;;) {
                    auto ids = co_await d_.groups.member_ids(conv->group_id, after, 1000);
                    if (!ids) {
                        co_return ids.error();
                    }
                    for (auto id : *ids) {
                        n += d_.presence.is_online(id) ? 1 : 0;
                    }
                    if (ids->size() < 1000) {
                        co_return n;
                    }
                    after = ids->back();
                }
            }
        }
        co_return std::uint64_t{0};
    }

    net::awaitable<result<readers_page>> readers(identity who, std::string conversation_id,
                                                 std::uint64_t seq, std::size_t limit) override {
        auto conv = parse_conversation_id(conversation_id);
        if (!conv) {
            co_return conv.error();
        }
        if (conv->kind == conversation_kind::world) {
            co_return make_error(errc::invalid_argument, "world has no members to count readers among");
        }
        if (auto ok = co_await d_.access.can_read(who, *conv); !ok) {
            co_return ok.error();
        }
        if (seq == 0 || seq > d_.log.last_seq(conv->id)) {
            co_return make_error(errc::not_found, "no message with this seq");
        }
        // The store answers from its (conversation_id, read_seq) index: counting costs one index
        // range of the readers, and only `limit` ids are materialised, so a 100,000-member group
        // costs no member scan per call. Members who left are not counted.
        std::optional<std::uint64_t> group;
        if (conv->kind == conversation_kind::group) {
            group = conv->group_id;
        }
        auto r = co_await d_.read_state.conversation_readers(conv->id, seq, limit, group);
        if (!r) {
            co_return r.error();
        }
        readers_page out;
        out.read_by = std::move(r->user_ids);
        out.read_count = r->count;
        if (conv->kind == conversation_kind::group) {
            auto n = co_await d_.groups.member_count(conv->group_id);
            if (!n) {
                co_return n.error();
            }
            out.member_count = *n;
        } else {
            out.member_count = 2;
        }
        co_return out;
    }

    void presence_changed(std::uint64_t user_id, bool online) override {
        net::co_spawn(
            pool_,
            [this, user_id, online]() -> net::awaitable<void> {
                auto friends = co_await d_.relations.list_friends(user_id);
                if (!friends || friends->empty()) {
                    co_return;
                }
                bus::delivery d;
                for (const auto& f : *friends) {
                    d.user_ids.push_back(f.id);
                }
                d.frame = dump({{"type", "presence"},
                                {"user_id", std::to_string(user_id)},
                                {"online", online}});
                (void)d_.bus.try_publish(bus::downstream_topic, std::to_string(user_id),
                                         std::make_shared<const std::string>(bus::encode_delivery(d)));
            },
            net::detached);
    }

private:
    // The log's append, letting the next send of the lane go on as soon as this one is
    // enqueued (the log assigns seqs in enqueue order) rather than once it is durable.
    net::awaitable<result<storage::append_result>> append_then_release(storage::append_request a,
                                                                        send_order::turn& turn) {
        using signature = void(result<storage::append_result>);
        co_return co_await net::async_initiate<const net::use_awaitable_t<>&, signature>(
            [this, &turn](auto handler, storage::append_request r) {
                // std::function needs a copyable callable; the handler is move-only.
                auto shared = std::make_shared<decltype(handler)>(std::move(handler));
                d_.log.append_async(std::move(r), [shared](result<storage::append_result> out) {
                    // On the storage writer thread: resume the send on its own executor.
                    auto ex = net::get_associated_executor(*shared);
                    net::post(ex, [shared, out = std::move(out)]() mutable {
                        std::move (*shared)(std::move(out));
                    });
                });
                turn.release();
            },
            net::use_awaitable, std::move(a));
    }

    // Edits stored before protocol 1.1 are not listed in their target's state (edits_of): for a
    // target edited then, the conversation is read from the target up to its last edit's time
    // (`edited_at`). Only moderators and admins can recall messages that old (a sender's
    // recall window is short), so this read is rare; a target that lists its edits costs one
    // lookup, usually from the recent-message cache.
    net::awaitable<result<std::vector<std::uint64_t>>> legacy_edits(std::string conversation_id,
                                                                    std::uint64_t target_seq) {
        std::vector<std::uint64_t> out;
        auto target = co_await d_.log.get(conversation_id, target_seq);
        if (!target) {
            if (target.error().code == errc::not_found) {
                co_return out;  // the append answers not_found itself
            }
            co_return target.error();
        }
        const json state = json::parse(target->state, nullptr, false);
        if (!state.is_object() || state.contains("edits") || state.contains("recalled")) {
            co_return out;
        }
        const auto edited_at = state.find("edited_at");
        if (edited_at == state.end() || !edited_at->is_number_integer()) {
            co_return out;
        }
        const std::int64_t until = edited_at->get<std::int64_t>() + legacy_scan_slack_ms;
        std::uint64_t after = target_seq;
        for (;;) {
            auto page = co_await d_.log.read_after(conversation_id, after, legacy_scan_page);
            if (!page) {
                co_return page.error();
            }
            for (const auto& m : page->messages) {
                if (m.ts_ms > until) {
                    co_return out;
                }
                if (m.target_seq != target_seq) {
                    continue;
                }
                const json body = json::parse(m.body, nullptr, false);
                if (body.is_object() && body.value("type", "") == "edit") {
                    out.push_back(m.seq);
                }
            }
            if (!page->has_more || page->messages.empty()) {
                co_return out;
            }
            after = page->messages.back().seq;
        }
    }

    // Before the ack (contract v1.1, "Read your writes"): the sender has read up to its own
    // message, and a direct chat is in both users' lists from its first message. The log
    // queued the record in the message's own write. With the read-state buffer (d_.sent, as
    // the server runs) the send only hands it over in memory, and every read of read state
    // waits for it; without one (tests), it is written here, before the ack.
    net::awaitable<void> record_own_send(storage::sent_record r) {
        const auto message_id = r.message_id;
        std::vector<storage::sent_record> one{r};
        if (auto st = co_await d_.read_state.record_sent(std::move(one)); !st) {
            // The message is stored and must be acked; the log keeps the record queued.
            infra::log::warn("logic", "sender's read position not recorded",
                             {{"conversation", r.conversation_id}, {"seq", r.seq},
                              {"error", st.error().message}});
        } else if (auto settled = d_.log.settle_sent({message_id}); !settled) {
            infra::log::debug("logic", "sent record left queued",
                              {{"error", settled.error().message}});
        }
    }

    // The other user of a direct chat; 0 elsewhere.
    static std::uint64_t direct_peer_of(const identity& who, const conversation_ref& conv) {
        if (conv.kind != conversation_kind::direct) {
            return 0;
        }
        return who.user_id == conv.low ? conv.high : conv.low;
    }

    // After the ack: the users a text mentions get an unread mention, and a recall takes its
    // target's mentions back. None of it holds the ack up; a crash between the ack and these
    // writes loses only these hints, never the message.
    void after_send(const identity& who, const conversation_ref& conv,
                    const storage::stored_message& m, const message_body& body) {
        std::vector<std::uint64_t> mentioned;
        if (body.type == "text" && body.mentions) {
            for (const auto id : *body.mentions) {
                // Only someone who can read the conversation: in a direct chat the peer.
                const bool reader = conv.kind != conversation_kind::direct || id == conv.low ||
                                    id == conv.high;
                if (id != who.user_id && reader) {
                    mentioned.push_back(id);
                }
            }
        }
        const std::uint64_t recalled = body.type == "recall" ? m.target_seq : 0;
        if (mentioned.empty() && recalled == 0) {
            return;
        }
        net::co_spawn(
            pool_,
            [this, conv, seq = m.seq, mentioned = std::move(mentioned),
             recalled]() -> net::awaitable<void> {
                if (!mentioned.empty()) {
                    std::optional<std::uint64_t> group;
                    if (conv.kind == conversation_kind::group) {
                        group = conv.group_id;
                    }
                    auto added = co_await d_.read_state.add_mentions(conv.id, seq, mentioned, group);
                    if (!added) {
                        infra::log::warn("logic", "mentions not recorded",
                                         {{"conversation", conv.id}, {"seq", seq},
                                          {"error", added.error().message}});
                    }
                }
                if (recalled != 0) {
                    (void)co_await d_.read_state.remove_mentions(conv.id, recalled);
                }
            },
            net::detached);
    }

    // How long a delivery waits for room in a full bus queue (fanout.publish_wait_ms).
    std::chrono::milliseconds publish_wait() const {
        return std::chrono::milliseconds(d_.live.get()->fanout.publish_wait_ms);
    }

    messaging_dependencies d_;
    net::thread_pool pool_;
    token_buckets limiter_;
    send_order order_;
    typing_throttle typing_;
    infra::counter& sent_;
    infra::counter& duplicates_;
    infra::counter& rate_limited_;
    infra::histogram& ack_latency_;
    std::unique_ptr<bus::delivery_guard> own_guard_;
    bus::delivery_guard& guard_;
    std::unique_ptr<bus::delivery_sink> own_sink_;
    std::unique_ptr<delivery_router> router_;
    std::atomic<bool> stopped_{false};
};

}  // namespace

std::unique_ptr<messaging_service> make_messaging_service(messaging_dependencies deps) {
    return std::make_unique<messaging_impl>(deps);
}

}  // namespace monochat::logic
