#include <monochat/logic/webhooks.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <deque>
#include <map>
#include <monochat/infra/clock.hpp>
#include <monochat/infra/ids.hpp>
#include <monochat/infra/live_config.hpp>
#include <monochat/infra/log.hpp>
#include <monochat/infra/metrics.hpp>
#include <monochat/logic/access.hpp>
#include <monochat/logic/message_format.hpp>
#include <monochat/logic/tokens.hpp>
#include <monochat/logic/wire.hpp>
#include <monochat/storage/message_log.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/webhook_store.hpp>
#include <mutex>
#include <set>
#include <unordered_set>

#include "logic/sodium_init.hpp"

namespace monochat::logic {

namespace {

namespace net = boost::asio;
using strand = net::strand<net::io_context::executor_type>;

constexpr std::size_t max_url_bytes = 2048;
// Messages read from the log per step of a conversation: the round-robin turn of one
// conversation before the webhook's others get theirs.
constexpr std::size_t page_messages = 100;
// Kept short in the status answer: an error text from a receiver is not ours to store whole.
constexpr std::size_t max_error_bytes = 300;
// Group event journal rows read per step. Rows are small (a change's ids and fields).
constexpr std::size_t page_journal_rows = 500;
// Journal rows a webhook holds read and pending at most; past it the worker reads on once the
// held ones are done (a receiver down for long, with many group changes meanwhile).
constexpr std::size_t max_pending_events = 10'000;

bool ipv4_in(const net::ip::address_v4& a, std::uint32_t net_addr, unsigned prefix) {
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
    return (a.to_uint() & mask) == (net_addr & mask);
}

enum class address_kind { loopback, private_net, link_local, public_net, never };

address_kind classify(const net::ip::address_v4& a) {
    if (ipv4_in(a, 0x7f000000, 8)) {
        return address_kind::loopback;
    }
    if (ipv4_in(a, 0x0a000000, 8) || ipv4_in(a, 0xac100000, 12) || ipv4_in(a, 0xc0a80000, 16) ||
        ipv4_in(a, 0x64400000, 10) || ipv4_in(a, 0xc6120000, 15)) {
        return address_kind::private_net;  // RFC 1918, shared (CGNAT), benchmarking
    }
    if (ipv4_in(a, 0xa9fe0000, 16)) {
        return address_kind::link_local;  // cloud metadata services live here
    }
    if (ipv4_in(a, 0x00000000, 8) || ipv4_in(a, 0xe0000000, 4) || ipv4_in(a, 0xf0000000, 4)) {
        return address_kind::never;  // "this network", multicast, reserved and broadcast
    }
    return address_kind::public_net;
}

address_kind classify(const net::ip::address_v6& a) {
    if (a.is_v4_mapped()) {
        return classify(net::ip::make_address_v4(net::ip::v4_mapped, a));
    }
    if (a.is_loopback()) {
        return address_kind::loopback;
    }
    if (a.is_unspecified() || a.is_multicast()) {
        return address_kind::never;
    }
    const auto b = a.to_bytes();
    if ((b[0] & 0xfe) == 0xfc) {
        return address_kind::private_net;  // unique local fc00::/7
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
        return address_kind::link_local;  // fe80::/10
    }
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) {
        return address_kind::private_net;  // deprecated site-local fec0::/10
    }
    return address_kind::public_net;
}

bool printable_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string clipped(std::string text) {
    if (text.size() > max_error_bytes) {
        text.resize(max_error_bytes);
    }
    return text;
}

}  // namespace

result<webhook_url> parse_webhook_url(std::string_view url) {
    if (url.empty() || url.size() > max_url_bytes) {
        return make_error(errc::invalid_argument, "url must be 1 to 2048 bytes");
    }
    if (!printable_ascii(url)) {
        return make_error(errc::invalid_argument,
                          "url must be printable ASCII without spaces (percent-encode the rest)");
    }
    webhook_url out;
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) {
        return make_error(errc::invalid_argument, "url must start with https:// or http://");
    }
    out.scheme = std::string(url.substr(0, sep));
    if (out.scheme != "https" && out.scheme != "http") {
        return make_error(errc::invalid_argument, "url must start with https:// or http://");
    }
    std::string_view rest = url.substr(sep + 3);
    if (rest.find('#') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "url must not have a fragment");
    }
    const auto path_at = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, path_at);
    out.target = path_at == std::string_view::npos ? "/" : std::string(rest.substr(path_at));
    if (out.target.front() == '?') {
        out.target.insert(out.target.begin(), '/');
    }
    if (authority.find('@') != std::string_view::npos) {
        return make_error(errc::invalid_argument, "url must not carry a user name or password");
    }
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            return make_error(errc::invalid_argument, "url has an unclosed IPv6 address");
        }
        out.host = std::string(authority.substr(1, close - 1));
        auto after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                return make_error(errc::invalid_argument, "url has junk after its IPv6 address");
            }
            port = after.substr(1);
        }
        boost::system::error_code ec;
        const auto a = net::ip::make_address_v6(out.host, ec);
        if (ec) {
            return make_error(errc::invalid_argument, "url has an invalid IPv6 address");
        }
        (void)a;  // only the syntax is checked here
    } else {
        const auto colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
        }
    }
    if (out.host.empty()) {
        return make_error(errc::invalid_argument, "url has no host");
    }
    for (auto& c : out.host) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (port.empty()) {
        out.port = out.scheme == "https" ? "443" : "80";
    } else {
        if (port.size() > 5 || !std::all_of(port.begin(), port.end(),
                                             [](char c) { return c >= '0' && c <= '9'; })) {
            return make_error(errc::invalid_argument, "url has an invalid port");
        }
        const int p = std::stoi(std::string(port));
        if (p < 1 || p > 65535) {
            return make_error(errc::invalid_argument, "url port must be 1 to 65535");
        }
        out.port = std::to_string(p);
    }
    return out;
}

status check_webhook_address(std::string_view scheme, std::string_view ip, bool allow_private) {
    boost::system::error_code ec;
    const auto a = net::ip::make_address(std::string(ip), ec);
    if (ec) {
        return make_error(errc::invalid_argument, "not an IP address: " + clipped(std::string(ip)));
    }
    const auto kind = a.is_v4() ? classify(a.to_v4()) : classify(a.to_v6());
    const std::string where(ip);
    if (scheme == "http" && kind != address_kind::loopback) {
        return make_error(errc::forbidden,
                          "plain http is allowed only to a loopback address, not " + where);
    }
    switch (kind) {
        case address_kind::loopback:
        case address_kind::public_net:
            return {};
        case address_kind::private_net:
        case address_kind::link_local:
            if (allow_private) {
                return {};
            }
            return make_error(errc::forbidden,
                              where + " is a private or link-local address "
                                      "(webhooks.allow_private is off)");
        case address_kind::never:
            break;
    }
    return make_error(errc::forbidden, where + " is not an address webhooks may be sent to");
}

std::string webhook_signature(std::string_view secret, std::int64_t unix_s,
                              std::string_view body) {
    ensure_sodium();
    const std::string stamp = std::to_string(unix_s);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(secret.data()),
                                secret.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(stamp.data()),
                                  stamp.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>("."), 1);
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(body.data()),
                                  body.size());
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(&state, mac);
    char hex[2 * crypto_auth_hmacsha256_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, mac, sizeof mac);
    return "t=" + stamp + ",v1=" + hex;
}

namespace {

// One webhook's live state. `rec`, `url` and `follows` never change after construction; the
// rest is guarded by the service's mutex, except the timers, which only its strand touches.
struct hook {
    hook(storage::webhook_record r, webhook_url u, strand s)
        : rec(std::move(r)), url(std::move(u)), exec(s), wake(s), retry(s) {
        if (rec.conversation_ids) {
            follows.insert(rec.conversation_ids->begin(), rec.conversation_ids->end());
        }
        for (const auto& e : rec.events) {
            if (e == webhook_event_message) {
                wants_messages = true;
            } else {
                journal_events.insert(e);
            }
        }
        journal_cursor = scanned_to = rec.journal_cursor;
        journal_dirty = wants_journal();
    }

    bool follows_conversation(const std::string& cid) const {
        return !rec.conversation_ids || follows.count(cid) != 0;
    }
    bool wants_journal() const { return !journal_events.empty(); }
    bool wants(const storage::group_journal_row& row) const {
        return journal_events.count(row.event) != 0 &&
               follows_conversation(group_conversation_id(row.group_id));
    }

    const storage::webhook_record rec;
    const webhook_url url;
    std::set<std::string> follows;
    bool wants_messages = false;
    std::set<std::string> journal_events;  // the events asked for besides "message"
    strand exec;
    net::steady_timer wake;   // idle: waits for a commit
    net::steady_timer retry;  // backoff between attempts

    // Guarded by the service's mutex.
    std::map<std::string, std::uint64_t> cursors;  // conversation -> last seq done
    std::deque<std::string> dirty;                 // conversations that may be behind
    std::set<std::string> dirty_set;
    // The group event journal: rows up to journal_cursor are done (durable, lazily); rows up to
    // scanned_to are read, and `pending` holds the wanted ones among them not done yet.
    // `unread`: ids of wanted rows the listener announced past scanned_to (for the backlog).
    std::uint64_t journal_cursor = 0;
    std::uint64_t scanned_to = 0;
    std::deque<storage::group_journal_row> pending;
    std::set<std::uint64_t> unread;
    bool journal_dirty = false;  // rows may have been written past scanned_to
    bool journal_more = false;   // a read stopped at max_pending_events
    bool idle = false;
    bool removed = false;
    std::uint64_t delivered = 0;
    std::uint64_t failed = 0;
    std::uint64_t dropped = 0;
    std::int64_t last_delivery_ms = 0;
    std::int64_t last_error_ms = 0;
    std::string last_error;
    bool retrying = false;

    void mark_dirty(const std::string& cid) {
        if (dirty_set.insert(cid).second) {
            dirty.push_back(cid);
        }
    }
};

class webhook_service;

// The log outlives nothing it calls back into: the listener reaches the service through this
// relay, which stop() disconnects (the log has no way to remove a listener).
struct relay {
    std::mutex mutex;
    webhook_service* target = nullptr;
};

class webhook_service final : public webhooks {
public:
    explicit webhook_service(webhook_dependencies d)
        : d_(d),
          relay_(std::make_shared<relay>()),
          delivered_(d.metrics.get_counter("monochat_webhook_deliveries_total",
                                           "Webhook deliveries by result: messages and events "
                                           "delivered, attempts failed, messages and events "
                                           "dropped.",
                                           {{"result", "delivered"}})),
          failed_(d.metrics.get_counter("monochat_webhook_deliveries_total",
                                        "Webhook deliveries by result: messages and events "
                                        "delivered, attempts failed, messages and events "
                                        "dropped.",
                                        {{"result", "failed"}})),
          dropped_(d.metrics.get_counter("monochat_webhook_deliveries_total",
                                         "Webhook deliveries by result: messages and events "
                                         "delivered, attempts failed, messages and events "
                                         "dropped.",
                                         {{"result", "dropped"}})) {
        d_.metrics.gauge_callback(
            "monochat_webhook_backlog",
            "Messages committed to conversations webhooks follow, and membership events journaled "
            "for them, not yet delivered or dropped.",
            {}, [this] { return static_cast<double>(total_backlog()); }, this);
    }

    ~webhook_service() override {
        stop();
        d_.metrics.remove_callbacks(this);
    }

    status start() override {
        {
            std::lock_guard lock(relay_->mutex);
            relay_->target = this;
        }
        d_.log.add_commit_listener([r = relay_](const storage::commit_event& e) {
            std::lock_guard lock(r->mutex);
            if (r->target != nullptr) {
                r->target->on_commit(e);
            }
        });
        d_.groups.set_group_journal_listener([r = relay_](const storage::group_journal_row& row) {
            std::lock_guard lock(r->mutex);
            if (r->target != nullptr) {
                r->target->on_journal(row);
            }
        });
        // The store answers on the caller's executor: the loading runs as the I/O context's
        // first work, not on a context of its own that could die under the store's completion.
        net::co_spawn(d_.io, load(), [](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    infra::log::error("logic", "webhooks not loaded", {{"error", ex.what()}});
                }
            }
        });
        return {};
    }

    void stop() override {
        {
            std::lock_guard lock(relay_->mutex);
            relay_->target = nullptr;
        }
        std::vector<std::shared_ptr<hook>> all;
        {
            std::lock_guard lock(mutex_);
            if (stopped_) {
                return;
            }
            stopped_ = true;
            all = hooks_;
        }
        for (auto& h : all) {
            cancel_timers(h);
        }
    }

    task<created_webhook> create(new_webhook w) override {
        if (auto st = ready(); !st) {
            co_return st.error();
        }
        const auto cfg = d_.config.get();
        auto url = parse_webhook_url(w.url);
        if (!url) {
            co_return url.error();
        }
        if (w.events.empty()) {
            co_return make_error(errc::invalid_argument, "events must name at least one event");
        }
        std::sort(w.events.begin(), w.events.end());
        w.events.erase(std::unique(w.events.begin(), w.events.end()), w.events.end());
        for (const auto& e : w.events) {
            if (std::find(webhook_events.begin(), webhook_events.end(), e) == webhook_events.end()) {
                std::string known;
                for (const auto k : webhook_events) {
                    known += known.empty() ? "" : ", ";
                    known += k;
                }
                co_return make_error(errc::invalid_argument, "unknown event '" + clipped(e) +
                                                                 "'; this server delivers: " +
                                                                 known);
            }
        }
        if (w.conversation_ids) {
            auto& ids = *w.conversation_ids;
            if (ids.empty()) {
                co_return make_error(errc::invalid_argument,
                                     "conversation_ids must not be empty (leave it out for all)");
            }
            if (ids.size() > static_cast<std::size_t>(cfg->webhooks.max_conversation_ids)) {
                co_return make_error(errc::invalid_argument,
                                     "conversation_ids holds more than webhooks.max_conversation_ids");
            }
            for (auto& cid : ids) {
                auto ref = parse_conversation_id(cid);
                if (!ref) {
                    co_return ref.error();
                }
                cid = ref->id;  // the canonical spelling, as the log keys it
            }
            std::sort(ids.begin(), ids.end());
            ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        }
        if (auto st = co_await check_host(*url, cfg->webhooks.allow_private); !st) {
            // At registration a refused address is a bad argument: the caller can fix the URL.
            co_return make_error(errc::invalid_argument, st.error().message);
        }
        {
            std::lock_guard lock(mutex_);
            if (hooks_.size() >= static_cast<std::size_t>(cfg->webhooks.max_webhooks)) {
                co_return make_error(errc::conflict, "webhooks.max_webhooks reached");
            }
        }
        storage::webhook_record rec;
        rec.id = d_.ids.next();
        rec.url = w.url;
        rec.secret = new_token();
        rec.events = std::move(w.events);
        rec.conversation_ids = std::move(w.conversation_ids);
        rec.created_ms = d_.clock.now_ms();
        // The journal's head is the starting journal cursor (earlier changes are not
        // delivered); no pruning runs from before it is read until the hook is listed, so the
        // rows past it stay.
        const bool journal = std::any_of(rec.events.begin(), rec.events.end(),
                                         [](const auto& e) { return e != webhook_event_message; });
        if (journal) {
            {
                std::lock_guard lock(mutex_);
                ++creating_;
            }
            auto head = co_await d_.groups.group_journal_head();
            if (!head) {
                std::lock_guard lock(mutex_);
                --creating_;
                co_return head.error();
            }
            rec.journal_cursor = *head;
        }
        auto h = std::make_shared<hook>(rec, std::move(*url), net::make_strand(d_.io));
        // Listed first, so that the listeners mark what commits from here on; then every
        // conversation's current last_seq is its starting cursor (what committed before is not
        // delivered). Marks made meanwhile are kept: a cursor only moves forward.
        {
            std::lock_guard lock(mutex_);
            hooks_.push_back(h);
            if (journal) {
                --creating_;
            }
        }
        std::vector<storage::webhook_cursor> start;
        if (rec.conversation_ids) {
            for (const auto& cid : *rec.conversation_ids) {
                start.emplace_back(cid, d_.log.last_seq(cid));
            }
        } else {
            start = d_.log.conversations();
        }
        auto stored = co_await d_.store.create(rec, start);
        if (!stored) {
            std::lock_guard lock(mutex_);
            std::erase(hooks_, h);
            co_return stored.error();
        }
        {
            std::lock_guard lock(mutex_);
            for (const auto& [cid, seq] : start) {
                auto& c = h->cursors[cid];
                c = std::max(c, seq);
            }
        }
        spawn_worker(h);
        infra::log::info("logic", "webhook created",
                         {{"webhook_id", rec.id}, {"conversations", start.size()}});
        co_return created_webhook{info_of(h), rec.secret};
    }

    task<std::vector<webhook_info>> list() override {
        if (auto st = ready(); !st) {
            co_return st.error();
        }
        std::vector<std::shared_ptr<hook>> all;
        {
            std::lock_guard lock(mutex_);
            all = hooks_;
        }
        std::vector<webhook_info> out;
        out.reserve(all.size());
        for (const auto& h : all) {
            out.push_back(info_of(h));
        }
        co_return out;
    }

    task<webhook_info> get(std::uint64_t webhook_id) override {
        if (auto st = ready(); !st) {
            co_return st.error();
        }
        auto h = find(webhook_id);
        if (!h) {
            co_return make_error(errc::not_found, "no webhook with that id");
        }
        co_return info_of(h);
    }

    task<void> forget_conversation(std::string conversation_id) override {
        {
            std::lock_guard lock(mutex_);
            gone_.insert(conversation_id);
            for (auto& h : hooks_) {
                h->cursors.erase(conversation_id);
            }
        }
        co_return co_await d_.store.forget_conversation(std::move(conversation_id));
    }

    task<void> remove(std::uint64_t webhook_id) override {
        if (auto st = ready(); !st) {
            co_return st.error();
        }
        auto h = find(webhook_id);
        if (!h) {
            co_return make_error(errc::not_found, "no webhook with that id");
        }
        if (auto st = co_await d_.store.remove(webhook_id); !st) {
            co_return st.error();
        }
        {
            std::lock_guard lock(mutex_);
            h->removed = true;
            std::erase(hooks_, h);
        }
        cancel_timers(h);
        infra::log::info("logic", "webhook removed", {{"webhook_id", webhook_id}});
        co_return status{};
    }

    // On the log's writer thread: marks and wakes, nothing more (never a log call: the writer
    // may hold what those need).
    void on_commit(const storage::commit_event& e) {
        std::vector<std::shared_ptr<hook>> to_wake;
        {
            std::lock_guard lock(mutex_);
            if (hooks_.empty()) {
                return;
            }
            const std::string* previous = nullptr;
            for (const auto& m : *e.messages) {
                // A batch's messages come grouped by conversation often enough to skip repeats.
                if (previous != nullptr && *previous == m.conversation_id) {
                    continue;
                }
                previous = &m.conversation_id;
                for (const auto& h : hooks_) {
                    if (!h->wants_messages || !h->follows_conversation(m.conversation_id)) {
                        continue;
                    }
                    h->cursors.try_emplace(m.conversation_id, 0);
                    h->mark_dirty(m.conversation_id);
                    if (h->idle) {
                        h->idle = false;
                        to_wake.push_back(h);
                    }
                }
            }
        }
        for (auto& h : to_wake) {
            net::post(h->exec, [h] { h->wake.cancel(); });
        }
    }

    // After a group change committed, on the thread completing it: marks the webhooks that
    // want events (they read the journal next) and wakes them; counts the row in the backlog
    // of those it is for.
    void on_journal(const storage::group_journal_row& row) {
        std::vector<std::shared_ptr<hook>> to_wake;
        bool prune = false;
        {
            std::lock_guard lock(mutex_);
            journal_seen_ = std::max(journal_seen_, row.id);
            for (const auto& h : hooks_) {
                if (!h->wants_journal()) {
                    continue;
                }
                if (row.id > h->scanned_to && h->wants(row)) {
                    h->unread.insert(row.id);
                }
                h->journal_dirty = true;
                if (h->idle) {
                    h->idle = false;
                    to_wake.push_back(h);
                }
            }
            // Nobody wants the row: it goes at once.
            prune = loaded_ && !stopped_ && creating_ == 0 &&
                    std::none_of(hooks_.begin(), hooks_.end(),
                                 [](const auto& h) { return h->wants_journal(); });
        }
        for (auto& h : to_wake) {
            net::post(h->exec, [h] { h->wake.cancel(); });
        }
        if (prune) {
            net::co_spawn(d_.io, prune_journal(), net::detached);
        }
    }

private:
    // Loads the webhooks and their cursors, then finds what the log holds past them: every
    // followed conversation whose last_seq is past its cursor (committed while the server was
    // down, or before the hooks were listed here). A conversation without a cursor began after
    // its webhook was made (creation writes one for every conversation that existed then), so
    // it starts at 0. The hooks are listed before the log is asked, so the listener marks
    // whatever commits meanwhile.
    net::awaitable<void> load() {
        auto listed = co_await d_.store.list();
        if (!listed) {
            infra::log::error("logic", "webhooks not loaded", {{"error", listed.error().message}});
            co_return;
        }
        std::vector<std::shared_ptr<hook>> loaded;
        for (auto& rec : *listed) {
            auto url = parse_webhook_url(rec.url);
            if (!url) {
                infra::log::error("logic", "stored webhook has an invalid url; skipped",
                                  {{"webhook_id", rec.id}});
                continue;
            }
            auto cursors = co_await d_.store.cursors(rec.id);
            if (!cursors) {
                infra::log::error("logic", "webhooks not loaded",
                                  {{"error", cursors.error().message}});
                co_return;
            }
            auto h = std::make_shared<hook>(std::move(rec), std::move(*url), net::make_strand(d_.io));
            for (auto& [cid, seq] : *cursors) {
                h->cursors[cid] = seq;
            }
            loaded.push_back(std::move(h));
        }
        auto head = co_await d_.groups.group_journal_head();
        if (!head) {
            infra::log::error("logic", "webhooks not loaded", {{"error", head.error().message}});
            co_return;
        }
        {
            std::lock_guard lock(mutex_);
            if (stopped_) {
                co_return;
            }
            hooks_.insert(hooks_.end(), loaded.begin(), loaded.end());
            journal_seen_ = std::max(journal_seen_, *head);
        }
        const auto all = d_.log.conversations();
        std::uint64_t behind = 0;
        {
            std::lock_guard lock(mutex_);
            for (auto& h : loaded) {
                if (!h->wants_messages) {
                    continue;
                }
                for (const auto& [cid, last] : all) {
                    if (!h->follows_conversation(cid)) {
                        continue;
                    }
                    auto [it, inserted] = h->cursors.try_emplace(cid, 0);
                    if (last > it->second) {
                        behind += last - it->second;
                        h->mark_dirty(cid);
                    }
                }
            }
            loaded_ = true;
        }
        for (auto& h : loaded) {
            spawn_worker(h);
        }
        co_await prune_journal();
        infra::log::info("logic", "webhooks started",
                         {{"webhooks", loaded.size()}, {"backlog", behind}});
    }

    // Admin calls wait for nothing: until the start-up load is done they are refused.
    status ready() {
        std::lock_guard lock(mutex_);
        if (stopped_) {
            return make_error(errc::unavailable, "the server is stopping");
        }
        if (!loaded_) {
            return make_error(errc::unavailable, "webhooks are still loading; retry shortly");
        }
        return {};
    }

    std::shared_ptr<hook> find(std::uint64_t id) {
        std::lock_guard lock(mutex_);
        for (const auto& h : hooks_) {
            if (h->rec.id == id) {
                return h;
            }
        }
        return nullptr;
    }

    void cancel_timers(const std::shared_ptr<hook>& h) {
        net::post(h->exec, [h] {
            h->wake.cancel();
            h->retry.cancel();
        });
    }

    bool ended(const hook& h) {
        std::lock_guard lock(mutex_);
        return stopped_ || h.removed;
    }

    // Whether the conversation was dropped for good (forget_conversation).
    bool gone(const std::string& cid) {
        std::lock_guard lock(mutex_);
        return gone_.contains(cid);
    }

    void spawn_worker(const std::shared_ptr<hook>& h) {
        net::co_spawn(h->exec, work(h), [id = h->rec.id](std::exception_ptr e) {
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& ex) {
                    infra::log::error("logic", "webhook worker failed",
                                      {{"webhook_id", id}, {"error", ex.what()}});
                }
            }
        });
    }

    // Messages past the cursors, from the log's memory (last_seq), with no lock held while the
    // log is asked.
    std::uint64_t backlog_of(const hook& h) {
        std::vector<std::pair<std::string, std::uint64_t>> cursors;
        std::uint64_t n = 0;
        {
            std::lock_guard lock(mutex_);
            if (h.wants_messages) {
                cursors.assign(h.cursors.begin(), h.cursors.end());
            }
            n = h.pending.size() + h.unread.size();
        }
        for (const auto& [cid, seq] : cursors) {
            const auto last = d_.log.last_seq(cid);
            n += last > seq ? last - seq : 0;
        }
        return n;
    }

    std::uint64_t total_backlog() {
        std::vector<std::shared_ptr<hook>> all;
        {
            std::lock_guard lock(mutex_);
            all = hooks_;
        }
        std::uint64_t n = 0;
        for (const auto& h : all) {
            n += backlog_of(*h);
        }
        return n;
    }

    webhook_info info_of(const std::shared_ptr<hook>& h) {
        webhook_info out;
        out.webhook_id = h->rec.id;
        out.url = h->rec.url;
        out.events = h->rec.events;
        out.conversation_ids = h->rec.conversation_ids;
        out.created_ms = h->rec.created_ms;
        out.backlog = backlog_of(*h);
        std::lock_guard lock(mutex_);
        out.delivered = h->delivered;
        out.failed = h->failed;
        out.dropped = h->dropped;
        out.last_delivery_ms = h->last_delivery_ms;
        out.last_error_ms = h->last_error_ms;
        out.last_error = h->last_error;
        out.retrying = h->retrying;
        return out;
    }

    // Resolves the URL's host and checks every address it gives. Errors: forbidden (an
    // address refused), unavailable (the name does not resolve).
    net::awaitable<result<std::vector<std::string>>> check_host(const webhook_url& url,
                                                               bool allow_private) {
        auto addrs = co_await d_.transport.resolve(url.host, url.port);
        if (!addrs) {
            co_return make_error(errc::unavailable,
                                 "cannot resolve " + url.host + ": " + addrs.error().message);
        }
        if (addrs->empty()) {
            co_return make_error(errc::unavailable, "cannot resolve " + url.host);
        }
        for (const auto& a : *addrs) {
            if (auto st = check_webhook_address(url.scheme, a, allow_private); !st) {
                co_return st.error();
            }
        }
        co_return std::move(*addrs);
    }

    // The worker of one webhook, on its strand. Membership events first: the head of the
    // pending journal rows goes once its conversation's messages up to the row's after_seq
    // are done (those go first); then, with no event pending, one conversation's page at a
    // time, round robin over the conversations that are behind.
    net::awaitable<void> work(std::shared_ptr<hook> h) {
        for (;;) {
            if (ended(*h)) {
                co_return;
            }
            if (h->wants_journal()) {
                bool read = false;
                std::optional<storage::group_journal_row> head;
                std::uint64_t done_to = 0;
                {
                    std::lock_guard lock(mutex_);
                    if (h->journal_dirty) {
                        h->journal_dirty = false;
                        read = true;
                    } else if (!h->pending.empty()) {
                        head = h->pending.front();
                    } else if (h->journal_cursor < h->scanned_to) {
                        done_to = h->scanned_to;  // rows read, none of them wanted
                    }
                }
                if (read) {
                    co_await read_journal(*h);
                    continue;
                }
                if (head) {
                    if (!co_await deliver_event(h, *head)) {
                        co_return;  // stopped or removed
                    }
                    continue;
                }
                if (done_to != 0) {
                    co_await move_journal(*h, done_to);
                    continue;
                }
            }
            std::string cid;
            std::uint64_t cursor = 0;
            bool idle = false;
            {
                std::lock_guard lock(mutex_);
                if (h->dirty.empty()) {
                    if (!h->journal_dirty) {
                        h->idle = true;
                        idle = true;
                    }
                } else {
                    cid = std::move(h->dirty.front());
                    h->dirty.pop_front();
                    h->dirty_set.erase(cid);
                    cursor = h->cursors[cid];
                }
            }
            if (idle) {
                h->wake.expires_at(net::steady_timer::time_point::max());
                co_await h->wake.async_wait(net::as_tuple(net::use_awaitable));
                continue;
            }
            if (cid.empty()) {
                continue;  // the journal first
            }
            auto page = co_await read_page(*h, cid, cursor, d_.log.last_seq(cid));
            if (!page) {
                continue;
            }
            {
                // A change committed before these messages were may not be read yet: read the
                // journal first (its rows then decide how far this conversation goes).
                std::lock_guard lock(mutex_);
                if (h->wants_journal() && h->journal_dirty) {
                    h->mark_dirty(cid);
                    continue;
                }
            }
            for (const auto& m : *page) {
                if (!co_await deliver(h, m)) {
                    co_return;  // stopped or removed
                }
            }
            {
                std::lock_guard lock(mutex_);
                h->mark_dirty(cid);  // the next page, after the other conversations' turns
            }
        }
    }

    // The messages of `cid` past `cursor` up to `last`, one page. nullopt: nothing to send now
    // (nothing past the cursor, the history is gone, or the log failed: retried after a pause).
    net::awaitable<std::optional<std::vector<storage::stored_message>>> read_page(
        hook& h, const std::string& cid, std::uint64_t cursor, std::uint64_t last) {
        if (last <= cursor) {
            co_return std::nullopt;
        }
        auto page = co_await d_.log.read_after(cid, cursor, page_messages);
        if (!page) {
            note_failure(h, "reading the message log: " + page.error().message);
            {
                std::lock_guard lock(mutex_);
                h.mark_dirty(cid);
            }
            co_await pause(h, std::chrono::milliseconds(d_.config.get()->webhooks.retry_initial_ms));
            co_return std::nullopt;
        }
        std::erase_if(page->messages, [last](const auto& m) { return m.seq > last; });
        if (page->messages.empty()) {
            // The log has nothing past the cursor although last_seq is past it: the
            // conversation's history is gone (a deleted group). Nothing is left to send.
            co_await move_cursor(h, cid, last);
            co_return std::nullopt;
        }
        co_return std::move(page->messages);
    }

    // Reads journal rows past scanned_to: the wanted ones join `pending`.
    net::awaitable<void> read_journal(hook& h) {
        std::uint64_t from = 0;
        {
            std::lock_guard lock(mutex_);
            if (h.pending.size() >= max_pending_events) {
                h.journal_more = true;
                co_return;
            }
            from = h.scanned_to;
        }
        auto rows = co_await d_.groups.read_group_journal(from, page_journal_rows);
        if (!rows) {
            note_failure(h, "reading the group event journal: " + rows.error().message);
            {
                std::lock_guard lock(mutex_);
                h.journal_dirty = true;
            }
            co_await pause(h, std::chrono::milliseconds(d_.config.get()->webhooks.retry_initial_ms));
            co_return;
        }
        std::lock_guard lock(mutex_);
        for (auto& row : *rows) {
            if (row.id <= h.scanned_to) {
                continue;
            }
            h.scanned_to = row.id;
            if (h.wants(row)) {
                h.pending.push_back(std::move(row));
            }
        }
        h.unread.erase(h.unread.begin(), h.unread.upper_bound(h.scanned_to));
        if (rows->size() == page_journal_rows) {
            h.journal_dirty = true;  // there may be more
        }
    }

    // Delivers the pending event `row` after its conversation's messages up to after_seq;
    // false when the webhook ended first.
    net::awaitable<bool> deliver_event(std::shared_ptr<hook> h, storage::group_journal_row row) {
        const std::string cid = group_conversation_id(row.group_id);
        if (h->wants_messages) {
            for (;;) {
                std::uint64_t cursor = 0;
                {
                    std::lock_guard lock(mutex_);
                    cursor = h->cursors.try_emplace(cid, 0).first->second;
                }
                const auto last = std::min(row.after_seq, d_.log.last_seq(cid));
                if (cursor >= last) {
                    break;
                }
                if (ended(*h)) {
                    co_return false;
                }
                auto page = co_await read_page(*h, cid, cursor, last);
                if (!page) {
                    continue;
                }
                for (const auto& m : *page) {
                    if (!co_await deliver(h, m)) {
                        co_return false;
                    }
                }
            }
        }
        const std::string journal_id = std::to_string(row.id);
        const std::string delivery_id = std::to_string(h->rec.id) + ":journal:" + journal_id;
        std::string body = R"({"event":")" + row.event + R"(","webhook_id":")" +
                           std::to_string(h->rec.id) + R"(","delivery_id":")" + delivery_id +
                           R"(","journal_id":)" + journal_id + R"(,"group_id":")" +
                           std::to_string(row.group_id) + R"(","conversation_id":")" + cid +
                           R"(","ts":)" + std::to_string(row.ts_ms);
        // The row's detail is a JSON object written by the store: its members join the body.
        if (row.detail.size() > 2 && row.detail.front() == '{' && row.detail.back() == '}') {
            body += ',';
            body.append(row.detail, 1, row.detail.size() - 2);
        }
        body += '}';
        auto done = co_await send(h, cid, body, delivery_id);
        if (!done) {
            co_return false;
        }
        {
            std::lock_guard lock(mutex_);
            if (!h->pending.empty() && h->pending.front().id == row.id) {
                h->pending.pop_front();
            }
            if (h->pending.empty() && h->journal_more) {
                h->journal_more = false;
                h->journal_dirty = true;
            }
        }
        co_await move_journal(*h, row.id);
        co_return true;
    }

    // Delivers one message until it succeeds or is dropped; false when the webhook ended first
    // (the cursor stays: at least once).
    net::awaitable<bool> deliver(std::shared_ptr<hook> h, const storage::stored_message& m) {
        const std::string delivery_id =
            std::to_string(h->rec.id) + ":" + m.conversation_id + ":" + std::to_string(m.seq);
        std::string body = R"({"event":"message","webhook_id":")" + std::to_string(h->rec.id) +
                           R"(","delivery_id":")" + delivery_id + R"(","message":)" +
                           message_json(m) + "}";
        auto done = co_await send(h, m.conversation_id, body, delivery_id);
        if (!done) {
            co_return false;
        }
        co_await move_cursor(*h, m.conversation_id, m.seq);
        co_return true;
    }

    // POSTs one delivery until it succeeds or is dropped (counted either way); false when the
    // webhook ended first. A delivery of a conversation that is gone (a deleted group) is done.
    net::awaitable<bool> send(std::shared_ptr<hook> h, const std::string& conversation_id,
                              const std::string& body, const std::string& delivery_id) {
        std::optional<std::chrono::steady_clock::time_point> first_failure;
        std::chrono::milliseconds backoff{0};
        for (;;) {
            if (ended(*h)) {
                co_return false;
            }
            if (gone(conversation_id)) {
                co_return true;  // its group was deleted: nothing of it is delivered any more
            }
            const auto cfg = d_.config.get();
            auto outcome = co_await attempt(*h, body, delivery_id, *cfg);
            const auto now = std::chrono::steady_clock::now();
            if (outcome) {
                delivered_.inc();
                {
                    std::lock_guard lock(mutex_);
                    ++h->delivered;
                    h->last_delivery_ms = d_.clock.now_ms();
                    h->retrying = false;
                }
                co_return true;
            }
            failed_.inc();
            {
                std::lock_guard lock(mutex_);
                ++h->failed;
            }
            note_failure(*h, outcome.error().message);
            if (!first_failure) {
                first_failure = now;
                backoff = std::chrono::milliseconds(cfg->webhooks.retry_initial_ms);
            } else {
                backoff = std::min(backoff * 2,
                                   std::chrono::milliseconds(cfg->webhooks.retry_max_ms));
            }
            const auto give_up_at = *first_failure + std::chrono::seconds(cfg->webhooks.max_retry_s);
            if (now >= give_up_at) {
                dropped_.inc();
                {
                    std::lock_guard lock(mutex_);
                    ++h->dropped;
                    h->retrying = false;
                }
                infra::log::warn("logic", "webhook delivery dropped after webhooks.max_retry_s",
                                 {{"webhook_id", h->rec.id}, {"delivery", delivery_id}});
                co_return true;
            }
            // The last attempt lands on the deadline, so a drop happens close to it.
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(give_up_at - now);
            co_await pause(*h, std::min(backoff, left));
        }
    }

    // One POST, after resolving and checking the host again (the name may point elsewhere
    // now, or webhooks.allow_private may have changed).
    net::awaitable<status> attempt(const hook& h, const std::string& body,
                                   const std::string& delivery_id, const infra::config& cfg) {
        auto addrs = co_await check_host(h.url, cfg.webhooks.allow_private);
        if (!addrs) {
            co_return addrs.error();
        }
        webhook_transport::request r;
        r.url = h.url;
        r.addresses = std::move(*addrs);
        const std::int64_t unix_s = d_.clock.now_ms() / 1000;
        r.headers = {{"Content-Type", "application/json"},
                     {"User-Agent", "monochat-webhook"},
                     {"X-Monochat-Webhook", std::to_string(h.rec.id)},
                     {"X-Monochat-Delivery", delivery_id},
                     {"X-Monochat-Signature", webhook_signature(h.rec.secret, unix_s, body)}};
        r.body = body;
        r.timeout = std::chrono::milliseconds(cfg.webhooks.timeout_ms);
        r.max_response_bytes = static_cast<std::size_t>(cfg.webhooks.max_response_bytes);
        auto code = co_await d_.transport.post(std::move(r));
        if (!code) {
            co_return code.error();
        }
        if (*code < 200 || *code > 299) {
            co_return make_error(errc::unavailable,
                                 "the receiver answered HTTP " + std::to_string(*code));
        }
        co_return status{};
    }

    void note_failure(hook& h, std::string what) {
        std::lock_guard lock(mutex_);
        h.last_error = clipped(std::move(what));
        h.last_error_ms = d_.clock.now_ms();
        h.retrying = true;
    }

    // Waits on the webhook's retry timer; stop() and remove() cut it short.
    net::awaitable<void> pause(hook& h, std::chrono::milliseconds d) {
        h.retry.expires_after(std::max(d, std::chrono::milliseconds(1)));
        co_await h.retry.async_wait(net::as_tuple(net::use_awaitable));
    }

    // The cursor moves in memory at once and on disk before the next delivery starts; a
    // failed write only means a repeat after a restart (at least once).
    net::awaitable<void> move_cursor(hook& h, const std::string& cid, std::uint64_t seq) {
        {
            std::lock_guard lock(mutex_);
            if (gone_.contains(cid)) {
                co_return;  // its cursors went with it
            }
            auto& c = h.cursors[cid];
            c = std::max(c, seq);
        }
        if (auto st = co_await d_.store.advance(h.rec.id, cid, seq); !st) {
            infra::log::warn("logic", "webhook cursor not written; the message may be sent again",
                             {{"webhook_id", h.rec.id}, {"error", st.error().message}});
        }
    }

    // The journal cursor, in memory at once and on disk next; then the journal is pruned up
    // to what every webhook is done with. A failed write means repeats after a restart.
    net::awaitable<void> move_journal(hook& h, std::uint64_t journal_id) {
        {
            std::lock_guard lock(mutex_);
            h.journal_cursor = std::max(h.journal_cursor, journal_id);
        }
        if (auto st = co_await d_.store.advance_journal(h.rec.id, journal_id); !st) {
            infra::log::warn("logic", "webhook journal cursor not written; events may be sent again",
                             {{"webhook_id", h.rec.id}, {"error", st.error().message}});
            co_return;
        }
        co_await prune_journal();
    }

    // Deletes the journal rows every webhook that wants events is done with (every row seen,
    // when none does). Not while a webhook is being created: its starting cursor is not
    // counted yet.
    net::awaitable<void> prune_journal() {
        std::uint64_t target = 0;
        {
            std::lock_guard lock(mutex_);
            if (stopped_ || !loaded_ || creating_ != 0) {
                co_return;
            }
            target = journal_seen_;
            for (const auto& h : hooks_) {
                if (h->wants_journal()) {
                    target = std::min(target, h->journal_cursor);
                }
            }
            if (target <= pruned_to_) {
                co_return;
            }
            pruned_to_ = target;
        }
        if (auto n = co_await d_.groups.prune_group_journal(target); !n) {
            infra::log::warn("logic", "group event journal not pruned",
                             {{"error", n.error().message}});
            std::lock_guard lock(mutex_);
            pruned_to_ = 0;  // tried again at the next move
        }
    }

    webhook_dependencies d_;
    std::shared_ptr<relay> relay_;
    infra::counter& delivered_;
    infra::counter& failed_;
    infra::counter& dropped_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<hook>> hooks_;
    // Conversations dropped for good (forget_conversation); mutex_.
    std::unordered_set<std::string> gone_;
    bool stopped_ = false;
    bool loaded_ = false;
    // The group event journal: the highest row id heard of, the highest pruned, and webhooks
    // being created (their starting journal cursor is read, not listed yet).
    std::uint64_t journal_seen_ = 0;
    std::uint64_t pruned_to_ = 0;
    int creating_ = 0;
};

}  // namespace

std::unique_ptr<webhooks> make_webhooks(webhook_dependencies deps) {
    return std::make_unique<webhook_service>(deps);
}

}  // namespace monochat::logic
