#pragma once
// Tests only: the social store's five roles (storage/social_stores.hpp) seen as one object, so
// that a test can drive the whole SQLite store, or a role behind its cache together with the
// others, through one pointer. The server takes the roles one by one; nothing in src/ sees
// this.

#include <memory>
#include <monochat/infra/result.hpp>
#include <monochat/storage/admin_store.hpp>
#include <monochat/storage/group_store.hpp>
#include <monochat/storage/read_state_store.hpp>
#include <monochat/storage/relation_store.hpp>
#include <monochat/storage/social_records.hpp>
#include <monochat/storage/social_stores.hpp>
#include <monochat/storage/user_store.hpp>
#include <utility>

namespace monochat::storage {

class social_store : public user_store,
                     public relation_store,
                     public group_store,
                     public read_state_store,
                     public admin_store {
public:
    template <class T>
    using task = store_task<T>;
};

// make_social_store(set): each call goes to the role that answers it, the one the set held when
// this was made; those roles must outlive the result. make_social_store(roles...): the same, of
// five roles given one by one. open_sqlite_social_store: open_sqlite_social_stores, as one
// store that owns the set (no caches).

namespace detail {

// The set seen as one social_store: every call goes to the role that answers it.
class social_store_view : public social_store {
public:
    social_store_view(user_store& users, relation_store& relations, group_store& groups,
                      read_state_store& read_state, admin_store& admin)
        : users_(users),
          relations_(relations),
          groups_(groups),
          read_state_(read_state),
          admin_(admin) {}

    task<user_record> create_user(user_record u) override {
        return users_.create_user(std::move(u));
    }
    task<user_record> get_user(std::uint64_t id) override { return users_.get_user(id); }
    task<user_record> get_user_by_username(std::string u) override {
        return users_.get_user_by_username(std::move(u));
    }
    task<std::vector<user_record>> get_users(std::vector<std::uint64_t> ids) override {
        return users_.get_users(std::move(ids));
    }
    task<std::vector<user_record>> search_users(std::string prefix, std::size_t limit) override {
        return users_.search_users(std::move(prefix), limit);
    }
    task<user_record> update_display_name(std::uint64_t id, std::string name) override {
        return users_.update_display_name(id, std::move(name));
    }
    task<user_record> update_profile(std::uint64_t id, profile_update change) override {
        return users_.update_profile(id, std::move(change));
    }
    task<bool> is_avatar(std::uint64_t file_id) override { return users_.is_avatar(file_id); }

    task<void> create_token(token_record t) override { return users_.create_token(std::move(t)); }
    task<token_record> lookup_token(std::string h) override {
        return users_.lookup_token(std::move(h));
    }
    task<void> delete_token(std::string h) override { return users_.delete_token(std::move(h)); }
    task<std::uint64_t> delete_user_tokens(std::uint64_t id) override {
        return users_.delete_user_tokens(id);
    }
    task<std::uint64_t> delete_expired_tokens(std::int64_t now, std::size_t limit) override {
        return users_.delete_expired_tokens(now, limit);
    }
    task<std::vector<token_record>> list_user_tokens(std::uint64_t id) override {
        return users_.list_user_tokens(id);
    }
    task<void> touch_token(std::string h, std::int64_t now) override {
        return users_.touch_token(std::move(h), now);
    }
    task<std::string> delete_session(std::uint64_t id, std::uint64_t session) override {
        return users_.delete_session(id, session);
    }
    task<std::vector<std::string>> delete_other_tokens(std::uint64_t id,
                                                       std::string keep) override {
        return users_.delete_other_tokens(id, std::move(keep));
    }
    task<std::vector<std::string>> set_password_hash(std::uint64_t id, std::string hash,
                                                     std::string keep) override {
        return users_.set_password_hash(id, std::move(hash), std::move(keep));
    }
    task<std::vector<block_pair>> all_blocks() override { return relations_.all_blocks(); }
    task<void> set_world_mute(std::uint64_t id, std::int64_t until, std::int64_t now) override {
        return admin_.set_world_mute(id, until, now);
    }
    task<void> lift_world_mute(std::uint64_t id) override { return admin_.lift_world_mute(id); }
    task<std::vector<world_mute_record>> world_mutes() override { return admin_.world_mutes(); }
    task<void> set_group_mute(std::uint64_t group_id, std::uint64_t id, std::int64_t until,
                              std::int64_t now) override {
        return groups_.set_group_mute(group_id, id, until, now);
    }
    task<void> lift_group_mute(std::uint64_t group_id, std::uint64_t id) override {
        return groups_.lift_group_mute(group_id, id);
    }
    task<std::vector<group_mute_record>> group_mutes() override { return groups_.group_mutes(); }
    task<group_ban_result> ban_member(std::uint64_t group_id, std::uint64_t id, std::uint64_t by,
                                      std::int64_t now) override {
        return groups_.ban_member(group_id, id, by, now);
    }
    task<void> unban_member(std::uint64_t group_id, std::uint64_t id) override {
        return groups_.unban_member(group_id, id);
    }
    task<std::vector<group_ban_record>> group_bans(std::uint64_t group_id) override {
        return groups_.group_bans(group_id);
    }
    task<group_invite_record> create_group_invite(group_invite_record invite, std::int64_t now,
                                                  std::uint64_t max_per_group) override {
        return groups_.create_group_invite(std::move(invite), now, max_per_group);
    }
    task<std::vector<group_invite_record>> group_invites(std::uint64_t group_id,
                                                         std::int64_t now) override {
        return groups_.group_invites(group_id, now);
    }
    task<void> delete_group_invite(std::uint64_t group_id, std::string code) override {
        return groups_.delete_group_invite(group_id, std::move(code));
    }
    task<group_invite_record> find_group_invite(std::string code, std::int64_t now) override {
        return groups_.find_group_invite(std::move(code), now);
    }
    task<members_added> join_by_invite(std::uint64_t group_id, std::string code,
                                       std::uint64_t user_id, std::int64_t now,
                                       std::uint64_t max_members) override {
        return groups_.join_by_invite(group_id, std::move(code), user_id, now, max_members);
    }
    task<user_record> create_user_with_token(user_record u, token_record t) override {
        return users_.create_user_with_token(std::move(u), std::move(t));
    }
    task<std::vector<std::string>> replace_user_tokens(std::uint64_t id,
                                                       std::optional<token_record> t) override {
        return users_.replace_user_tokens(id, std::move(t));
    }
    task<group_record> update_group(std::uint64_t id, std::optional<std::string> name,
                                    std::optional<std::string> description,
                                    std::optional<bool> is_public) override {
        return groups_.update_group(id, std::move(name), std::move(description), is_public);
    }
    task<void> block_user(std::uint64_t id, std::uint64_t blocked, std::int64_t now) override {
        return relations_.block_user(id, blocked, now);
    }
    task<void> unblock_user(std::uint64_t id, std::uint64_t blocked) override {
        return relations_.unblock_user(id, blocked);
    }
    task<std::vector<user_record>> blocked_users(std::uint64_t id) override {
        return relations_.blocked_users(id);
    }
    task<std::vector<std::uint64_t>> blocked_by(std::uint64_t id,
                                                std::vector<std::uint64_t> ids) override {
        return relations_.blocked_by(id, std::move(ids));
    }
    task<invite_record> create_invite(invite_record i) override {
        return users_.create_invite(std::move(i));
    }
    task<std::vector<invite_record>> list_invites() override { return users_.list_invites(); }
    task<void> delete_invite(std::string code) override {
        return users_.delete_invite(std::move(code));
    }
    task<user_record> create_invited_user(user_record u, std::string code,
                                          std::int64_t now) override {
        return users_.create_invited_user(std::move(u), std::move(code), now);
    }
    task<void> create_password_reset(std::string h, std::uint64_t id,
                                     std::int64_t expires) override {
        return users_.create_password_reset(std::move(h), id, expires);
    }
    task<user_record> consume_password_reset(std::string h, std::int64_t now,
                                             std::string hash) override {
        return users_.consume_password_reset(std::move(h), now, std::move(hash));
    }

    task<send_friend_request_result> send_friend_request(std::uint64_t id, std::uint64_t from,
                                                         std::uint64_t to, std::string note,
                                                         std::int64_t now) override {
        return relations_.send_friend_request(id, from, to, std::move(note), now);
    }
    task<friend_request_record> get_friend_request(std::uint64_t id) override {
        return relations_.get_friend_request(id);
    }
    task<friend_request_record> accept_friend_request(std::uint64_t id, std::uint64_t actor,
                                                      std::int64_t now) override {
        return relations_.accept_friend_request(id, actor, now);
    }
    task<friend_request_record> reject_friend_request(std::uint64_t id, std::uint64_t actor,
                                                      std::int64_t now) override {
        return relations_.reject_friend_request(id, actor, now);
    }
    task<friend_requests> list_friend_requests(std::uint64_t id) override {
        return relations_.list_friend_requests(id);
    }
    task<std::vector<user_record>> list_friends(std::uint64_t id) override {
        return relations_.list_friends(id);
    }
    task<bool> are_friends(std::uint64_t a, std::uint64_t b) override {
        return relations_.are_friends(a, b);
    }
    task<void> remove_friend(std::uint64_t a, std::uint64_t b) override {
        return relations_.remove_friend(a, b);
    }

    task<group_record> create_group(std::uint64_t group_id, std::string name,
                                    std::uint64_t owner_id, bool is_public,
                                    std::vector<std::uint64_t> member_ids, std::int64_t created_ms,
                                    std::uint64_t max_members) override {
        return groups_.create_group(group_id, std::move(name), owner_id, is_public,
                                    std::move(member_ids), created_ms, max_members);
    }
    task<group_record> get_group(std::uint64_t id) override { return groups_.get_group(id); }
    task<member_page> list_members(std::uint64_t id, std::uint64_t after,
                                   std::size_t limit) override {
        return groups_.list_members(id, after, limit);
    }
    task<std::optional<member_role>> member_role_of(std::uint64_t group_id,
                                                    std::uint64_t user_id) override {
        return groups_.member_role_of(group_id, user_id);
    }
    task<members_added> add_members(std::uint64_t group_id, std::vector<std::uint64_t> user_ids,
                                    std::int64_t joined_ms, std::uint64_t max_members) override {
        return groups_.add_members(group_id, std::move(user_ids), joined_ms, max_members);
    }
    task<members_added> join_group(std::uint64_t group_id, std::uint64_t user_id,
                                   std::int64_t joined_ms, std::uint64_t max_members) override {
        return groups_.join_group(group_id, user_id, joined_ms, max_members);
    }
    task<group_record> remove_member(std::uint64_t group_id, std::uint64_t user_id) override {
        return groups_.remove_member(group_id, user_id);
    }
    task<group_record> set_member_role(std::uint64_t group_id, std::uint64_t user_id,
                                       member_role role) override {
        return groups_.set_member_role(group_id, user_id, role);
    }
    task<std::vector<user_group>> groups_of_user(std::uint64_t id) override {
        return groups_.groups_of_user(id);
    }
    task<std::vector<std::uint64_t>> member_ids(std::uint64_t group_id, std::uint64_t after,
                                                std::size_t limit) override {
        return groups_.member_ids(group_id, after, limit);
    }
    task<std::uint64_t> member_count(std::uint64_t group_id) override {
        return groups_.member_count(group_id);
    }
    task<deleted_group> delete_group(std::uint64_t group_id, std::uint64_t owner_id,
                                     std::int64_t now_ms) override {
        return groups_.delete_group(group_id, owner_id, now_ms);
    }
    task<std::vector<std::uint64_t>> deleted_groups() override { return groups_.deleted_groups(); }
    task<void> forget_deleted_group(std::uint64_t group_id) override {
        return groups_.forget_deleted_group(group_id);
    }
    task<std::vector<group_journal_row>> read_group_journal(std::uint64_t after,
                                                            std::size_t limit) override {
        return groups_.read_group_journal(after, limit);
    }
    task<std::uint64_t> group_journal_head() override { return groups_.group_journal_head(); }
    task<std::uint64_t> prune_group_journal(std::uint64_t up_to) override {
        return groups_.prune_group_journal(up_to);
    }
    void set_group_journal_listener(group_journal_listener l) override {
        groups_.set_group_journal_listener(std::move(l));
    }

    task<group_directory_page> public_groups(std::string q, std::uint64_t after,
                                             std::size_t limit) override {
        return groups_.public_groups(std::move(q), after, limit);
    }

    task<void> record_direct_message(std::uint64_t a, std::uint64_t b, std::int64_t ms) override {
        return read_state_.record_direct_message(a, b, ms);
    }
    task<std::vector<direct_conversation>> direct_conversations(std::uint64_t id) override {
        return read_state_.direct_conversations(id);
    }

    task<bool> set_read_position(std::uint64_t user, std::string cid, std::uint64_t seq,
                                 std::int64_t now) override {
        return read_state_.set_read_position(user, std::move(cid), seq, now);
    }
    task<void> record_sent(std::vector<sent_record> records) override {
        return read_state_.record_sent(std::move(records));
    }
    task<std::uint64_t> get_read_position(std::uint64_t user, std::string cid) override {
        return read_state_.get_read_position(user, std::move(cid));
    }
    task<std::vector<read_position>> read_positions(std::uint64_t user) override {
        return read_state_.read_positions(user);
    }
    task<readers_result> conversation_readers(std::string cid, std::uint64_t seq, std::size_t limit,
                                              std::optional<std::uint64_t> group) override {
        return read_state_.conversation_readers(std::move(cid), seq, limit, group);
    }

    task<void> set_muted_until(std::uint64_t user, std::string cid, std::int64_t until) override {
        return read_state_.set_muted_until(user, std::move(cid), until);
    }
    task<std::vector<conversation_setting>> conversation_settings(std::uint64_t user) override {
        return read_state_.conversation_settings(user);
    }

    task<std::uint64_t> add_mentions(std::string cid, std::uint64_t seq,
                                     std::vector<std::uint64_t> users,
                                     std::optional<std::uint64_t> group) override {
        return read_state_.add_mentions(std::move(cid), seq, std::move(users), group);
    }
    task<std::uint64_t> remove_mentions(std::string cid, std::uint64_t seq) override {
        return read_state_.remove_mentions(std::move(cid), seq);
    }
    task<std::vector<mention_count>> unread_mentions(std::uint64_t user) override {
        return read_state_.unread_mentions(user);
    }

    task<std::vector<user_record>> list_users(std::uint64_t after, std::size_t limit) override {
        return admin_.list_users(after, limit);
    }
    task<void> set_suspended(std::uint64_t id, bool suspended) override {
        return admin_.set_suspended(id, suspended);
    }
    task<void> delete_user(std::uint64_t id) override { return users_.delete_user(id); }

    task<void> touch_user(std::uint64_t id, std::int64_t now_ms) override {
        return users_.touch_user(id, now_ms);
    }
    task<std::vector<std::uint64_t>> idle_guests(std::int64_t seen_before_ms,
                                                 std::size_t limit) override {
        return users_.idle_guests(seen_before_ms, limit);
    }
    task<std::vector<std::uint64_t>> purge_guests(std::vector<std::uint64_t> ids,
                                                  std::int64_t seen_before_ms,
                                                  std::int64_t now_ms) override {
        return users_.purge_guests(std::move(ids), seen_before_ms, now_ms);
    }
    task<bool> is_deleted_user(std::uint64_t id) override { return users_.is_deleted_user(id); }
    task<void> delete_account(std::uint64_t id, std::int64_t now_ms) override {
        return users_.delete_account(id, now_ms);
    }

    task<void> put_push_subscription(push_subscription_record s, std::size_t max) override {
        return read_state_.put_push_subscription(std::move(s), max);
    }
    task<void> delete_push_subscription(std::uint64_t id, std::string endpoint) override {
        return read_state_.delete_push_subscription(id, std::move(endpoint));
    }
    task<bool> remove_push_endpoint(std::string endpoint) override {
        return read_state_.remove_push_endpoint(std::move(endpoint));
    }
    task<std::vector<push_subscription_record>> push_targets(std::uint64_t id, std::string cid,
                                                             std::int64_t now_ms) override {
        return read_state_.push_targets(id, std::move(cid), now_ms);
    }

    task<void> backup_to(std::string path) override { return admin_.backup_to(std::move(path)); }

private:
    user_store& users_;
    relation_store& relations_;
    group_store& groups_;
    read_state_store& read_state_;
    admin_store& admin_;
};

// Holds the set for owning_social_store, constructed before the view of it (base-from-member).
struct set_holder {
    social_stores set;
};

class owning_social_store final : private set_holder, public social_store_view {
public:
    explicit owning_social_store(social_stores set)
        : set_holder{std::move(set)},
          social_store_view(*set_holder::set.users, *set_holder::set.relations,
                            *set_holder::set.groups, *set_holder::set.read_state,
                            *set_holder::set.admin) {}
};

}  // namespace detail

inline std::unique_ptr<social_store> make_social_store(user_store& users, relation_store& relations,
                                                       group_store& groups,
                                                       read_state_store& read_state,
                                                       admin_store& admin) {
    return std::make_unique<detail::social_store_view>(users, relations, groups, read_state, admin);
}

inline std::unique_ptr<social_store> make_social_store(const social_stores& stores) {
    return make_social_store(*stores.users, *stores.relations, *stores.groups, *stores.read_state,
                             *stores.admin);
}

inline result<std::unique_ptr<social_store>> open_sqlite_social_store(
    const sqlite_social_store_options& options, infra::metrics_registry& metrics) {
    auto set = open_sqlite_social_stores(options, metrics);
    if (!set) {
        return set.error();
    }
    return std::unique_ptr<social_store>(
        std::make_unique<detail::owning_social_store>(std::move(*set)));
}

}  // namespace monochat::storage
