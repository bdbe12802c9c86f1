// The search index (search/search_index.hpp): words found whatever their case and accents,
// the last one as a prefix; only inside the windows given; edits replace and deletes forget
// a message's text; hostile input is never read as FTS5 syntax; pages; snippets mark the
// matched words.
#include "search/search_index.hpp"

#include "engine/utf8.hpp"
#include "search/feed.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace parley::search {
namespace {

constexpr Seq kOpen = ~Seq{0};

std::string joined(const Hit& hit) {
  std::string text;
  for (const Part& part : hit.snippet)
    text += part.match ? "[" + part.text + "]" : part.text;
  return text;
}

class SearchIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    index.begin();
    index.put({1, 1, 7, 100, "Dinner at the Café tonight?"});
    index.put({1, 2, 8, 200, "yes, cafe at eight"});
    index.put({2, 1, 7, 300, "the café on Main street closed"});
    index.put({2, 2, 9, 400, "nothing to see here"});
    index.commit();
  }
  Page find(const std::string& text, std::vector<Window> windows = {{1, 1, kOpen}, {2, 1, kOpen}},
            std::size_t limit = 20, std::size_t offset = 0) {
    return index.search(Query{text, std::move(windows), offset, limit});
  }
  SearchIndex index{":memory:"};
};

TEST_F(SearchIndexTest, WordsMatchWhateverTheirCaseAndAccentsTheLastAsAPrefix) {
  EXPECT_EQ(find("CAFE").hits.size(), 3u);
  EXPECT_EQ(find("café").hits.size(), 3u);
  EXPECT_EQ(find("caf").hits.size(), 3u) << "the last word is a prefix";
  EXPECT_EQ(find("cafe eight").hits.size(), 1u) << "every word must occur";
  EXPECT_EQ(find("eight cafe").hits.size(), 1u) << "in any order";
  EXPECT_TRUE(find("tea").hits.empty());
}

TEST_F(SearchIndexTest, OnlyMessagesInsideTheWindowsAreFound) {
  const Page page = find("cafe", {{1, 2, 2}});
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(page.hits[0].channel, 1u);
  EXPECT_EQ(page.hits[0].seq, 2u);
  EXPECT_TRUE(find("cafe", {}).hits.empty()) << "no window, nothing readable";
  EXPECT_EQ(find("cafe", {{2, 1, kOpen}}).hits.size(), 1u) << "an open window to the newest";
}

TEST_F(SearchIndexTest, AnEditReplacesTheTextAndADeleteForgetsIt) {
  index.put({2, 2, 9, 400, "now about a cafe too"});
  EXPECT_EQ(find("cafe").hits.size(), 4u);
  EXPECT_TRUE(find("nothing").hits.empty()) << "the old text is gone with the edit";
  index.erase(1, 1);
  index.erase(1, 1);  // again: nothing
  EXPECT_EQ(find("cafe").hits.size(), 3u);
  EXPECT_TRUE(find("dinner").hits.empty());
  EXPECT_EQ(index.size(), 3u);
}

TEST_F(SearchIndexTest, HostileInputIsNeverReadAsQuerySyntax) {
  for (const std::string& typed : std::vector<std::string>{
           "\"", "caf\"e", "NEAR(cafe eight)", "cafe OR nothing", "text:cafe", "-cafe", "^cafe",
           "(cafe", "*", "cafe AND", "\"\"\"", "{text}: cafe", std::string("ca\0fe", 5)}) {
    EXPECT_NO_THROW(find(typed)) << typed;
  }
  EXPECT_EQ(find("cafe OR nothing").hits.size(), 0u) << "OR is a word, not an operator";
  EXPECT_EQ(find("NEAR(cafe eight)").hits.size(), 0u);
  EXPECT_EQ(find("text:cafe").hits.size(), 0u);
  EXPECT_TRUE(index.words_of("  ,.;!? ").empty()) << "no word, no query";
  EXPECT_TRUE(find("  ,.;!? ").hits.empty());
}

TEST_F(SearchIndexTest, AtMostSixteenWordsCount) {
  std::string typed = "cafe";
  for (int i = 0; i < 100; ++i)
    typed += " w" + std::to_string(i);
  const auto expression = to_match_expression(index.words_of(typed));
  ASSERT_TRUE(expression.has_value());
  EXPECT_EQ(std::count(expression->begin(), expression->end(), '"'), 2 * 16);
}

TEST_F(SearchIndexTest, PagesCoverEveryHitOnceAndSayWhenMoreFollow) {
  index.begin();
  for (Seq seq = 10; seq < 60; ++seq)
    index.put({3, seq, 7, 1000 + static_cast<TimeUs>(seq), "pizza number " + std::to_string(seq)});
  index.commit();
  std::set<Seq> seen;
  std::size_t offset = 0;
  for (int pages = 0; pages < 10; ++pages) {
    const Page page = find("pizza", {{3, 1, kOpen}}, 20, offset);
    for (const Hit& hit : page.hits)
      EXPECT_TRUE(seen.insert(hit.seq).second) << "seq " << hit.seq << " twice";
    offset += page.hits.size();
    if (!page.more) break;
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST_F(SearchIndexTest, SnippetsMarkTheMatchedWords) {
  const Page page = find("main stre");
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(joined(page.hits[0]), "the café on [Main] [street] closed");
  EXPECT_EQ(page.hits[0].sender, 7u);
  EXPECT_EQ(page.hits[0].server_time, 300);
}

// Words split wherever the tokenizer splits them, any script's punctuation, symbols and
// spaces included: an em dash, an ideographic space or a trailing emoji is no part of a word
// (each made the query one phrase, or dropped the last word's prefix).
TEST_F(SearchIndexTest, WordsSplitAtAnyScriptsSeparators) {
  index.put({2, 3, 7, 500, "ランチ in 東京 with tomas"});
  EXPECT_EQ(index.words_of("Tomas—LUNCH, 東京　ランチ 👍"),
            (std::vector<std::string>{"tomas", "lunch", "東京", "ランチ"}));
  EXPECT_EQ(find("東京　ランチ").hits.size(), 1u) << "in any order, not as one phrase";
  EXPECT_EQ(find("tomas—ランチ").hits.size(), 1u);
  EXPECT_EQ(find("caf 👍").hits.size(), 3u) << "the last word is still a prefix";
  EXPECT_EQ(find("«café»").hits.size(), 3u);
}

// A snippet stays within kMaxSnippetBytes however long the message's tokens and the text
// between them, cut on code points; its parts joined are the message's own text.
TEST_F(SearchIndexTest, SnippetsAreBoundedAndCutOnCodePoints) {
  const std::string long_word = "pizza" + std::string(60'000, 'a');
  const std::string long_lead = std::string(30'000, '.') + " é " + std::string(20'000, '-');
  index.put({2, 4, 7, 600, long_word});
  index.put({2, 5, 7, 700, long_lead + "pizza" + std::string(20'000, '!')});
  const Page page = find("pizza");
  ASSERT_EQ(page.hits.size(), 2u);
  for (const Hit& hit : page.hits) {
    std::size_t bytes = 0;
    bool matched = false;
    for (const Part& part : hit.snippet) {
      bytes += part.text.size();
      matched |= part.match && part.text.starts_with("pizza");
      EXPECT_TRUE(engine::utf8_code_points(part.text).has_value()) << "seq " << hit.seq;
    }
    EXPECT_LE(bytes, kMaxSnippetBytes) << "seq " << hit.seq;
    EXPECT_TRUE(matched) << "seq " << hit.seq << ": " << joined(hit);
  }
}

// The highlight marks are bytes no UTF-8 text holds: a text with control characters (the
// old marks) keeps them, and only the matched word is marked.
TEST_F(SearchIndexTest, ControlCharactersInATextAreNotHighlightMarks) {
  index.put({2, 6, 7, 800,
             "a\x02"
             "b falafel \x03"
             "c"});
  const Page page = find("falafel");
  ASSERT_EQ(page.hits.size(), 1u);
  EXPECT_EQ(joined(page.hits[0]),
            "a\x02"
            "b [falafel] \x03"
            "c");
}

TEST(SearchIndexFile, ItSurvivesReopening) {
  const std::string path = ::testing::TempDir() + "/search_index_test.sqlite";
  std::remove(path.c_str());
  {
    SearchIndex index(path);
    index.put({5, 3, 1, 10, "kept on disk"});
  }
  SearchIndex reopened(path);
  EXPECT_EQ(reopened.indexed_upto(5), 3u);
  EXPECT_EQ(reopened.search(Query{"disk", {{5, 1, kOpen}}, 0, 20}).hits.size(), 1u);
  std::remove(path.c_str());
}

// Equally ranked hits stored at one time (one group commit) come newest first by seq.
TEST(SearchIndexOrder, TiesGoNewestFirst) {
  SearchIndex index(":memory:");
  for (Seq seq = 1; seq <= 5; ++seq)
    index.put({9, seq, 1, 100, "same words"});
  const Page page = index.search(Query{"same words", {{9, 1, 5}}, 0, 20});
  std::vector<Seq> order;
  for (const Hit& hit : page.hits)
    order.push_back(hit.seq);
  EXPECT_EQ(order, (std::vector<Seq>{5, 4, 3, 2, 1}));
}

// Paging ends at the deepest offset the engine allows: `more` never promises a page it
// would refuse (offset + hits past limits::kMaxSearchOffset).
TEST(SearchFeed, MoreStopsAtTheDeepestOffset) {
  SearchIndex index(":memory:");
  index.begin();
  for (Seq seq = 1; seq <= 1100; ++seq)
    index.put({3, seq, 1, static_cast<TimeUs>(seq), "pizza"});
  index.commit();
  const auto ask = [&](std::uint32_t offset) {
    return answer(index, engine::SearchRequested{1, 7, "pizza", offset, 20, {{3, 1, 1100}}});
  };
  const auto last_full = ask(980);  // hits 981-1000: the next page starts at 1000, allowed
  EXPECT_EQ(last_full.hits.size(), 20u);
  EXPECT_TRUE(last_full.more);
  const auto deepest = ask(1000);  // hits 1001-1020: a next page would start past 1000
  EXPECT_EQ(deepest.hits.size(), 20u);
  EXPECT_FALSE(deepest.more);
  EXPECT_EQ(deepest.request, 7u);
}

}  // namespace
}  // namespace parley::search
