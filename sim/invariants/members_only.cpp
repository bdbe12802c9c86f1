// Invariant 3, members only: nobody receives a message of a channel they were not a member
// of at its seq (a removed member receives the event of their own removal, nothing after),
// in their inbox or in a history page (`read` records: the membership windows).
// Membership comes from the committed channel sequences (Run::recipients), not from what
// the engine says. The same holds for what a message says of another (rule 21): a reply's
// quote, or an `edited` entry, carries no text of a message the user was not a member at.
#include "sim/invariants/invariant.hpp"

#include <algorithm>

namespace parley::sim::invariants {
namespace {

class MembersOnly final : public Invariant {
 public:
  explicit MembersOnly(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    const bool read = r.kind == RecordKind::read;
    if (!read && (r.kind != RecordKind::delivered || !receipts_.first(r))) return;
    const auto* who = run_.recipients({run_.home_of(r.user), r.channel, r.seq});
    if (who == nullptr) return;  // not in the store: delivered_durable.cpp reports it
    if (std::find(who->begin(), who->end(), r.user) != who->end()) {
      return check_quoted(i, report);
    }
    report.add(3,
               "user " + std::to_string(r.user) + (read ? " read " : " received ") +
                   std::to_string(r.channel) + "/" + std::to_string(r.seq) +
                   (read ? " in a history page" : "") + " without being a member at that seq",
               i);
  }

 private:
  // "quote:SEQ:text" or "edit:SEQ:text" (sim/world_impl.hpp, reference_state): text of SEQ.
  void check_quoted(std::size_t i, Report& report) const {
    const Record& r = run_.history[i];
    const bool quote = r.text.starts_with("quote:");
    if ((!quote && !r.text.starts_with("edit:")) || !r.text.ends_with(":text")) return;
    const std::size_t from = quote ? 6 : 5;
    const Seq quoted = std::stoull(r.text.substr(from));
    const auto* who = run_.recipients({run_.home_of(r.user), r.channel, quoted});
    if (who == nullptr || std::find(who->begin(), who->end(), r.user) != who->end()) return;
    report.add(3,
               "user " + std::to_string(r.user) + " got the text of " + std::to_string(r.channel) +
                   "/" + std::to_string(quoted) + " in " + (quote ? "the quote of " : "the edit ") +
                   std::to_string(r.channel) + "/" + std::to_string(r.seq) +
                   " without being a member at that seq",
               i);
  }

  const Run& run_;
  FirstReceipts receipts_;
};

}  // namespace

std::unique_ptr<Invariant> members_only(const Run& run) {
  return std::make_unique<MembersOnly>(run);
}

}  // namespace parley::sim::invariants
