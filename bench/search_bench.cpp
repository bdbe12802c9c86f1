// The search index (search/search_index.hpp) at chat scale: what indexing costs per message
// (batched 1,000 to a transaction, as a node would after a group commit) and how long a query
// takes over 1M messages, scoped to one user's 100 chats (docs/search.md).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "search/search_index.hpp"

namespace {

using parley::search::Document;
using parley::search::Query;
using parley::search::SearchIndex;
using parley::search::Window;

// Zipf-like words: a few common ones, a long tail, as chat text has.
std::string random_text(std::mt19937_64& random) {
  static const std::vector<std::string> kCommon = {"the",   "you",  "ok", "yes",      "see",
                                                   "lunch", "meet", "at", "tomorrow", "thanks"};
  std::string text;
  const int words = 4 + static_cast<int>(random() % 12);
  for (int i = 0; i < words; ++i) {
    if (i != 0) text += ' ';
    if (random() % 3 != 0) {
      text += kCommon[random() % kCommon.size()];
    } else {
      text += "w" + std::to_string(random() % 50'000);
    }
  }
  return text;
}

constexpr std::uint64_t kChannels = 10'000;

Document message(std::uint64_t i, std::mt19937_64& random) {
  return Document{1 + i % kChannels, 1 + i / kChannels, 1 + random() % 1000,
                  static_cast<std::int64_t>(i), random_text(random)};
}

void BM_SearchIndexPut(benchmark::State& state) {
  const std::string path = "/tmp/parley-search-bench-put.sqlite";
  std::remove(path.c_str());
  SearchIndex index(path);
  std::mt19937_64 random(1);
  std::uint64_t i = 0;
  for (auto _ : state) {
    index.begin();
    for (int k = 0; k < 1000; ++k)
      index.put(message(i++, random));
    index.commit();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(i));
  for (const char* suffix : {"", "-wal", "-shm"})
    std::remove((path + suffix).c_str());
}
BENCHMARK(BM_SearchIndexPut)->Unit(benchmark::kMillisecond)->Iterations(200);

// One index of 1M messages, built once for the query benchmarks and removed at exit.
struct Million {
  const std::string path = "/tmp/parley-search-bench-1m.sqlite";
  std::unique_ptr<SearchIndex> index;
  Million() {
    std::remove(path.c_str());
    {
      SearchIndex built(path);
      std::mt19937_64 random(2);
      for (std::uint64_t batch = 0; batch < 1000; ++batch) {
        built.begin();
        for (std::uint64_t k = 0; k < 1000; ++k)
          built.put(message(batch * 1000 + k, random));
        built.commit();
      }
    }  // closed, as a node restarted on it: the log checkpointed into the file
    index = std::make_unique<SearchIndex>(path);
  }
  ~Million() {
    index.reset();
    for (const char* suffix : {"", "-wal", "-shm"})
      std::remove((path + suffix).c_str());
  }
};

SearchIndex& million() {
  static Million built;
  return *built.index;
}

// A user in 100 of the 10,000 chats; a common word, a rare one, and a prefix.
void BM_SearchQuery1M(benchmark::State& state, const std::string& text) {
  SearchIndex& index = million();
  std::vector<Window> windows;
  for (std::uint64_t c = 1; c <= 100; ++c)
    windows.push_back(Window{c * 97 % kChannels + 1, 1, ~std::uint64_t{0}});
  std::size_t hits = 0;
  for (auto _ : state) {
    const auto page = index.search(Query{text, windows, 0, 20});
    hits = page.hits.size();
    benchmark::DoNotOptimize(page);
  }
  state.counters["hits"] = static_cast<double>(hits);
}
BENCHMARK_CAPTURE(BM_SearchQuery1M, common_word, std::string("lunch"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SearchQuery1M, rare_word, std::string("w4242"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SearchQuery1M, two_words_prefix, std::string("meet tomor"))
    ->Unit(benchmark::kMillisecond);

}  // namespace
