// The scenario loader: [social], [[social.group]] and [traffic].
#include <algorithm>
#include <map>
#include <string>

#include "engine/types.hpp"
#include "engine/utf8.hpp"
#include "sim/scenario_reader.hpp"

namespace parley::sim::reader {
namespace {

std::string describe_user_id(const Scenario& s) {
  return "a user id from 1 to " + std::to_string(s.users);
}

// Members besides the creator, each once, in the order written.
void read_member_list(const Section& group, const toml::array& list, const Scenario& s,
                      GroupSpec& spec) {
  for (const toml::node& element : list) {
    const auto* id = element.as_integer();
    if (id == nullptr) group.fail_value("members", element, describe_user_id(s), false);
    if (id->get() < 1 || static_cast<std::uint64_t>(id->get()) > s.users) {
      group.fail_value("members", element, describe_user_id(s), true);
    }
    const auto user = static_cast<std::uint64_t>(id->get());
    if (user == spec.creator) continue;
    if (std::find(spec.members.begin(), spec.members.end(), user) != spec.members.end()) continue;
    spec.members.push_back(user);
  }
  const std::size_t total = spec.members.size() + 1;
  if (total > engine::limits::kMaxGroupMembers) {
    group.fail(line_of(list), "members: a group holds at most " +
                                  std::to_string(engine::limits::kMaxGroupMembers) +
                                  " members, its creator included; this one has " +
                                  std::to_string(total));
  }
}

void read_members(const Section& group, const Scenario& s, GroupSpec& spec) {
  const toml::node* value = group.get("members");
  if (value == nullptr) return;
  const std::string expected =
      "an array of user ids from 1 to " + std::to_string(s.users) + ", or \"all\"";
  if (const auto* text = value->as_string()) {
    if (text->get() != "all") group.fail_value("members", *value, expected, true);
    if (s.users > engine::limits::kMaxGroupMembers) {
      group.fail(line_of(*value), "members: \"all\" makes " + std::to_string(s.users) +
                                      " members (users = " + std::to_string(s.users) +
                                      ") but a group holds at most " +
                                      std::to_string(engine::limits::kMaxGroupMembers));
    }
    spec.all_members = true;
    return;
  }
  const auto* list = value->as_array();
  if (list == nullptr) group.fail_value("members", *value, expected, false);
  read_member_list(group, *list, s, spec);
}

void read_group_name(const Section& group, std::map<std::string, std::size_t>& names,
                     GroupSpec& spec) {
  const auto name = group.string("name");
  if (!name) group.fail_missing("name");
  const toml::node& value = *group.get("name");
  const auto code_points = engine::utf8_code_points(*name);
  if (!code_points || *code_points == 0 || *code_points > engine::limits::kMaxGroupNameCodePoints) {
    group.fail_value("name", value, "1 to 100 characters", true);
  }
  const auto [it, inserted] = names.emplace(*name, line_of(value));
  if (!inserted) {
    group.fail(line_of(value), "name: '" + *name + "' is already the name of the group on line " +
                                   std::to_string(it->second));
  }
  spec.name = *name;
}

GroupSpec read_group(const Section& group, const Scenario& s,
                     std::map<std::string, std::size_t>& names) {
  group.reject_unknown(kGroupKeys);
  GroupSpec spec;
  read_group_name(group, names, spec);
  group.read("creator", spec.creator, 1, static_cast<std::int64_t>(s.users));
  read_members(group, s, spec);
  return spec;
}

void read_groups(const Section& social, const Source& source, Scenario& s) {
  const toml::array* groups = find_table_array(social, "group", "[[social.group]]");
  if (groups == nullptr) return;
  std::map<std::string, std::size_t> names;  // name -> line, to catch duplicates
  for (const toml::node& element : *groups) {
    const Section group(source, *element.as_table(), "[[social.group]]");
    s.groups.push_back(read_group(group, s, names));
  }
}

}  // namespace

void read_social(const Section& social, const Source& source, Scenario& s) {
  social.reject_unknown(kSocialKeys);
  if (const auto mode = social.choice("contacts", kContactModes)) {
    s.contacts = std::string(kContactModes[*mode]);
  }
  social.read("contacts_per_user", s.contacts_per_user, 0,
              static_cast<std::int64_t>(engine::limits::kMaxContacts));
  // Each user needs that many distinct others to befriend.
  if (s.contacts == "random" && s.contacts_per_user >= s.users) {
    const std::string_view blamed =
        social.has("contacts_per_user") ? "contacts_per_user" : "contacts";
    social.fail(social.key_line(blamed),
                "contacts_per_user: expected less than users (" + std::to_string(s.users) +
                    ") when contacts = \"random\", got " + std::to_string(s.contacts_per_user));
  }
  read_groups(social, source, s);
}

// --- [traffic] --------------------------------------------------------------------------

void read_traffic(const Section& traffic, Scenario& s) {
  traffic.reject_unknown(kTrafficKeys);
  traffic.read_number("messages_per_user_per_minute", s.messages_per_user_per_minute, 0);
  traffic.read("group_percent", s.group_percent, 0, 100);
  traffic.read("typing_percent", s.typing_percent, 0, 100);
  traffic.read("read_percent", s.read_percent, 0, 100);
  traffic.read("edit_percent", s.edit_percent, 0, 100);
  traffic.read("delete_percent", s.delete_percent, 0, 100);
  traffic.read("reply_percent", s.reply_percent, 0, 100);
  traffic.read("mention_percent", s.mention_percent, 0, 100);
  traffic.read("mute_percent", s.mute_percent, 0, 100);
  traffic.read("stranger_percent", s.stranger_percent, 0, 100);
  traffic.read("accept_percent", s.accept_percent, 0, 100);
  const auto max_text = static_cast<std::int64_t>(engine::limits::kMaxMessageCodePoints);
  traffic.read("text_min", s.text_min, 1, max_text);
  traffic.read("text_max", s.text_max, 1, max_text);
  traffic.require_order({"text_min", s.text_min}, {"text_max", s.text_max}, false);
  if (const auto at = traffic.moment("burst_at_s", s.duration)) s.burst_at = *at;
  traffic.read("burst_messages", s.burst_messages, 0, kMaxU32);
  traffic.read_number("history_walks_per_user_per_minute", s.history_walks_per_user_per_minute, 0);
  traffic.read("history_page_size", s.history_page_size, 1,
               static_cast<std::int64_t>(engine::limits::kMaxHistoryPage));
  traffic.read("history_walk_pages", s.history_walk_pages, 1, 1000);
  traffic.read_number("searches_per_user_per_minute", s.searches_per_user_per_minute, 0);
}

}  // namespace parley::sim::reader
