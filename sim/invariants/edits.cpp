// Invariant 11, edits and deletes (docs/engine.md, rule 20), from the nodes' final stores
// and the clients' own records, never from what the engine says of them:
// - in the store, every `edited` or `deleted` entry names an earlier text message of its
//   channel, one its sender asked (a `revised` record) to edit or delete; an edit comes from
//   the message's own sender; a superseded edit kept no text; the newest edit's text is the
//   message's, unless the message was deleted;
// - a deleted message has no text left in the store, nor has any edit of it;
// - once a device received the `deleted` entry of a message, every later copy of that
//   message it receives, delivered or in a history page, is a tombstone without text, and
//   so is every later quote of it in a reply (rule 21): the quote says "deleted".
// That every edited and deleted entry reaches every device of every member exactly once and
// in order is invariant 2's (delivery_order.cpp): they are channel messages like any other.
#include <map>
#include <set>
#include <tuple>

#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {
namespace {

using engine::MessageKind;
using engine::MessageRecord;

std::string id(ChannelId channel, Seq seq) {
  return std::to_string(channel) + "/" + std::to_string(seq);
}

class Edits final : public Invariant {
 public:
  explicit Edits(const Run& run) : run_(run) {
    for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
      for (const auto& [channel, log] : run_.nodes[node].channels) {
        for (const MessageRecord& m : log.messages) {
          if (m.kind == MessageKind::deleted) deletes_[{node, channel, m.seq}] = m.target;
        }
      }
    }
  }

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::revised) {
      asked_.insert({r.user, r.channel, r.seq, r.flag});
      return;
    }
    if (r.kind != RecordKind::delivered && r.kind != RecordKind::read) return;
    if (r.detail == "deleted") {
      const auto found = deletes_.find({run_.home_of(r.user), r.channel, r.seq});
      if (found != deletes_.end()) seen_deleted_[{r.device, r.channel, found->second}] = r.seq;
      return;
    }
    if (r.detail != "text") return;
    check_quote(i, report);
    if (r.flag) return;
    const auto deleted = seen_deleted_.find({r.device, r.channel, r.seq});
    if (deleted == seen_deleted_.end()) return;
    report.add(11,
               "device " + std::to_string(r.device) +
                   (r.kind == RecordKind::read ? " read " : " received ") + id(r.channel, r.seq) +
                   " with its text after it had received its delete (" +
                   id(r.channel, deleted->second) + ")",
               i);
  }

  // A reply's quote (its record's text "quote:SEQ:STATE") carries no text of a message the
  // device already knows was deleted.
  void check_quote(std::size_t i, Report& report) const {
    const Record& r = run_.history[i];
    if (!r.text.starts_with("quote:") || !r.text.ends_with(":text")) return;
    const Seq quoted = std::stoull(r.text.substr(6));
    const auto deleted = seen_deleted_.find({r.device, r.channel, quoted});
    if (deleted == seen_deleted_.end()) return;
    report.add(11,
               "device " + std::to_string(r.device) +
                   (r.kind == RecordKind::read ? " read " : " received ") + id(r.channel, r.seq) +
                   " quoting the text of " + id(r.channel, quoted) +
                   " after it had received its delete (" + id(r.channel, deleted->second) + ")",
               i);
  }

  void finish(Report& report) override {
    for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
      for (const auto& [channel, log] : run_.nodes[node].channels)
        check_channel(channel, log.messages, report);
    }
  }

 private:
  void check_channel(ChannelId channel, const std::vector<MessageRecord>& messages,
                     Report& report) const {
    // messages[k] has seq k + 1 (ChannelLog: seq 1, 2, ... in order).
    const auto at = [&](Seq seq) -> const MessageRecord* {
      return seq >= 1 && seq <= messages.size() ? &messages[seq - 1] : nullptr;
    };
    for (const MessageRecord& entry : messages) {
      if (entry.kind != MessageKind::edited && entry.kind != MessageKind::deleted) continue;
      const bool remove = entry.kind == MessageKind::deleted;
      const std::string what = std::string(remove ? "delete " : "edit ") + id(channel, entry.seq);
      const MessageRecord* target = entry.target < entry.seq ? at(entry.target) : nullptr;
      if (target == nullptr || target->kind != MessageKind::text) {
        report.add(11,
                   what + " names " + id(channel, entry.target) + ", not an earlier text message",
                   SIZE_MAX);
        continue;
      }
      if (!asked_.contains({entry.sender, channel, entry.target, remove})) {
        report.add(11, what + " by user " + std::to_string(entry.sender) + " was never asked for",
                   SIZE_MAX);
      }
      if (remove) {
        check_deleted(channel, *target, at(target->edited_seq), report);
      } else {
        check_edit(channel, entry, *target, report);
      }
    }
  }

  static void check_edit(ChannelId channel, const MessageRecord& edit, const MessageRecord& target,
                         Report& report) {
    const std::string what = "edit " + id(channel, edit.seq);
    if (edit.sender != target.sender) {
      report.add(11, what + " changed another user's message " + id(channel, target.seq), SIZE_MAX);
    }
    if (edit.edited_seq != 0 && !edit.text.empty()) {
      report.add(11, what + " was superseded but kept its text", SIZE_MAX);
    }
    if (edit.edited_seq == 0 && !target.deleted &&
        (target.edited_seq != edit.seq || target.text != edit.text)) {
      report.add(
          11,
          what + " is the newest edit but " + id(channel, target.seq) + " does not hold its text",
          SIZE_MAX);
    }
  }

  static void check_deleted(ChannelId channel, const MessageRecord& target,
                            const MessageRecord* newest_edit, Report& report) {
    if (!target.deleted || !target.text.empty()) {
      report.add(11,
                 "deleted message " + id(channel, target.seq) + " still has its text in the store",
                 SIZE_MAX);
    }
    if (newest_edit != nullptr && !newest_edit->text.empty()) {
      report.add(11,
                 "edit " + id(channel, newest_edit->seq) + " of deleted message " +
                     id(channel, target.seq) + " still has its text in the store",
                 SIZE_MAX);
    }
  }

  const Run& run_;
  std::map<std::tuple<std::uint32_t, ChannelId, Seq>, Seq> deletes_;  // entry -> target
  std::set<std::tuple<UserId, ChannelId, Seq, bool>> asked_;          // revised records
  // (device, channel, deleted message) -> the delete entry the device received.
  std::map<std::tuple<DeviceId, ChannelId, Seq>, Seq> seen_deleted_;
};

}  // namespace

std::unique_ptr<Invariant> edits(const Run& run) {
  return std::make_unique<Edits>(run);
}

}  // namespace parley::sim::invariants
