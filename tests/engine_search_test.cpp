// Search (docs/search.md): the engine checks a search and scopes it to the asker's
// membership windows; the host's index (the harness keeps one in memory, fed by the same
// effects as the node's) answers within them. Removed members, late joiners, deleted and
// edited texts, 1:1 requests deleted, paging and refusals.
#include <algorithm>

#include "tests/harness.hpp"

namespace parley::testing {
namespace {

server::SearchResults search(Harness& h, ConnectionId c, const std::string& query,
                             std::uint32_t offset = 0, std::uint32_t limit = 20) {
  const auto event = h.group_op(c, client::Search{0, query, offset, limit});
  const auto* results = std::get_if<server::SearchResults>(&event);
  EXPECT_NE(results, nullptr) << describe(event);
  return results ? *results : server::SearchResults{};
}

std::vector<Seq> seqs(const server::SearchResults& results) {
  std::vector<Seq> found;
  for (const auto& hit : results.hits)
    found.push_back(hit.seq);
  std::sort(found.begin(), found.end());
  return found;
}

std::string snippet_text(const server::SearchHit& hit) {
  std::string text;
  for (const auto& part : hit.snippet)
    text += part.match ? "[" + part.text + "]" : part.text;
  return text;
}

struct Group {
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  UserId carol = h.user("carol");
  bool friends = [this] {
    h.befriend(alice, bob);
    h.befriend(alice, carol);
    return true;
  }();
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId b = h.connect(h.device(bob));
  ConnectionId c = h.connect(h.device(carol));
  ChannelId group = h.create_group(a, "trip", {bob});  // seq 1: group_created
};

TEST(Search, FindsEveryWordTheLastAsAPrefixWithHighlightedSnippets) {
  Group w;
  Harness& h = w.h;
  ack_of(h.send(w.a, w.group, 0, "Shall we have lunch tomorrow?"));  // seq 2
  ack_of(h.send(w.b, w.group, 0, "lunch is fine"));                  // seq 3
  ack_of(h.send(w.b, w.group, 0, "see you tomorrow"));               // seq 4
  EXPECT_EQ(seqs(search(h, w.b, "lunch")), (std::vector<Seq>{2, 3}));
  EXPECT_EQ(seqs(search(h, w.b, "lunch tomor")), (std::vector<Seq>{2}));
  const auto found = search(h, w.a, "LUNCH tom");
  ASSERT_EQ(found.hits.size(), 1u);
  EXPECT_EQ(found.hits[0].channel, w.group);
  EXPECT_EQ(found.hits[0].sender, w.alice);
  EXPECT_EQ(snippet_text(found.hits[0]), "Shall we have [lunch] [tomorrow]?");
  EXPECT_TRUE(search(h, w.b, "dinner").hits.empty());
  EXPECT_TRUE(search(h, w.b, "?!").hits.empty()) << "no word: nothing found, no error";
}

TEST(Search, NeverFindsWhatTheAskerMayNotRead) {
  Group w;
  Harness& h = w.h;
  ack_of(h.send(w.a, w.group, 0, "secret before carol"));  // seq 2
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(w.a, client::AddMember{0, w.group, w.carol})));  // seq 3
  ack_of(h.send(w.a, w.group, 0, "secret while carol is in"));    // seq 4
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(w.a, client::RemoveMember{0, w.group, w.carol})));  // seq 5
  ack_of(h.send(w.a, w.group, 0, "secret after carol left"));        // seq 6
  EXPECT_EQ(seqs(search(h, w.c, "secret")), (std::vector<Seq>{4}))
      << "carol finds neither what came before she joined nor after her removal";
  EXPECT_EQ(seqs(search(h, w.b, "secret")), (std::vector<Seq>{2, 4, 6}));
  // A stranger to the group finds nothing of it, and the engine gave the index no window
  // of a channel she was never in.
  const UserId dave = h.user("dave");
  const ConnectionId d = h.connect(h.device(dave));
  EXPECT_TRUE(search(h, d, "secret").hits.empty());
  EXPECT_TRUE(h.searches().back().windows.empty());
  // Carol's windows: exactly her membership.
  search(h, w.c, "secret");
  EXPECT_EQ(h.searches().back().windows, (std::vector<SearchWindow>{{w.group, 3, 5}}));
}

TEST(Search, DeletedTextIsNeverFoundAndAnEditIsFoundByItsNewText) {
  Group w;
  Harness& h = w.h;
  const Seq typo = ack_of(h.send(w.a, w.group, 0, "meet at the libary")).seq;
  const Seq gone = ack_of(h.send(w.a, w.group, 0, "my password is hunter2")).seq;
  ASSERT_EQ(search(h, w.b, "hunter2").hits.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(w.a, client::EditMessage{0, w.group, typo, "meet at the library"})));
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(w.a, client::DeleteMessage{0, w.group, gone})));
  EXPECT_TRUE(search(h, w.b, "hunter2").hits.empty());
  EXPECT_TRUE(search(h, w.b, "libary").hits.empty());
  EXPECT_EQ(seqs(search(h, w.b, "library")), (std::vector<Seq>{typo}));
}

TEST(Search, ADeleted1to1RequestIsNotSearchedUpToWhatItCleared) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId b = h.connect(h.device(bob));
  const ChannelId chat = ack_of(h.send_to(a, bob, "buy cheap watches")).channel;
  EXPECT_EQ(search(h, b, "watches").hits.size(), 1u) << "a request is searched like any chat";
  ASSERT_TRUE(std::holds_alternative<server::RequestAnswered>(
      h.group_op(b, client::AnswerRequest{0, chat, client::RequestAnswer::delete_})));
  EXPECT_TRUE(search(h, b, "watches").hits.empty());
  EXPECT_EQ(search(h, a, "watches").hits.size(), 1u) << "the sender still finds their own";
  ack_of(h.send_to(a, bob, "watches again"));
  EXPECT_EQ(search(h, b, "watches").hits.size(), 1u) << "only what came after the delete";
}

TEST(Search, PagesFollowOffsetAndMore) {
  Group w;
  Harness& h = w.h;
  for (int i = 0; i < 5; ++i)
    ack_of(h.send(w.a, w.group, 0, "ping " + std::to_string(i)));
  const auto first = search(h, w.b, "ping", 0, 2);
  EXPECT_EQ(first.hits.size(), 2u);
  EXPECT_TRUE(first.more);
  const auto last = search(h, w.b, "ping", 4, 2);
  EXPECT_EQ(last.hits.size(), 1u);
  EXPECT_FALSE(last.more);
  std::vector<Seq> all;
  for (std::uint32_t offset = 0; offset < 5; offset += 2) {
    for (Seq seq : seqs(search(h, w.b, "ping", offset, 2)))
      all.push_back(seq);
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<Seq>{2, 3, 4, 5, 6})) << "pages neither repeat nor skip";
}

TEST(Search, RefusesBadQueriesAndStoresNothing) {
  Group w;
  Harness& h = w.h;
  const std::string before = h.fingerprint();
  auto refused = [&](client::Search bad) { return error_code(h.group_op(w.a, bad)); };
  EXPECT_EQ(refused({0, "", 0, 20}), ErrorCode::bad_request);
  EXPECT_EQ(refused({0, std::string(limits::kMaxSearchQueryBytes + 1, 'a'), 0, 20}),
            ErrorCode::bad_request);
  EXPECT_EQ(refused({0, "ok", limits::kMaxSearchOffset + 1, 20}), ErrorCode::bad_request);
  EXPECT_EQ(refused({0, "ok", 0, 0}), ErrorCode::invalid_limit);
  EXPECT_EQ(refused({0, "ok", 0, limits::kMaxSearchPage + 1}), ErrorCode::invalid_limit);
  EXPECT_EQ(refused({0, "\xc3\x28", 0, 20}), ErrorCode::invalid_utf8);
  EXPECT_EQ(h.fingerprint(), before);
  EXPECT_TRUE(h.searches().empty()) << "a refused search never reaches the index";
  // A query of exactly the limit is fine, and so is the deepest offset.
  search(h, w.a, std::string(limits::kMaxSearchQueryBytes, 'a'), limits::kMaxSearchOffset,
         limits::kMaxSearchPage);
  // Through the HTTP API: refused, search answers on a WebSocket only.
  h.stateless(w.alice, 1, client::Search{77, "ok", 0, 20});
  EXPECT_EQ(error_code(h.reply(0, 77)), ErrorCode::bad_request);
}

}  // namespace
}  // namespace parley::testing
