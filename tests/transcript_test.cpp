// Runs every transcript in tests/transcripts/ (one test per file), on the store named by
// --store=memory (default) or --store=lmdb. With PARLEY_REWRITE=1 in the environment the
// expected sections are rewritten from the actual output instead (docs/testing.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "storage/lmdb_store.hpp"
#include "storage/memory_store.hpp"
#include "storage/pipelined_store.hpp"
#include "tests/transcript_runner.hpp"

#ifndef PARLEY_TRANSCRIPTS_DIR
#error "PARLEY_TRANSCRIPTS_DIR must name the directory of transcript files"
#endif

namespace parley::testing::transcript {
namespace {

std::string g_store = "memory";

std::unique_ptr<engine::Store> make_store() {
  if (g_store == "lmdb" || g_store == "pipelined") {
    storage::LmdbOptions options;
    options.sync = false;
    options.remove_on_close = true;
    options.initial_map_bytes = 1ull << 20;
    auto lmdb = std::make_unique<storage::LmdbStore>(
        storage::make_temp_directory("parley-transcript"), options);
    if (g_store == "lmdb") return lmdb;
    // The node's store: writes reach LMDB through the committer thread.
    return std::make_unique<storage::PipelinedStore>(std::move(lmdb));
  }
  return std::make_unique<storage::MemoryStore>();
}

bool rewriting() {
  const char* value = std::getenv("PARLEY_REWRITE");
  return value != nullptr && std::strcmp(value, "") != 0 && std::strcmp(value, "0") != 0;
}

// The files named at build time (the build globs tests/transcripts/*.txt into this list,
// so the discovered tests follow the directory).
std::vector<std::string> compiled_transcripts() {
  const std::vector<std::string> names = {
#include "transcript_files.inc"
  };
  std::vector<std::string> files;
  for (const std::string& name : names)
    files.push_back(std::string(PARLEY_TRANSCRIPTS_DIR) + "/" + name);
  std::sort(files.begin(), files.end());
  return files;
}

// The files in the directory now.
std::vector<std::string> transcript_files() {
  std::vector<std::string> files;
  std::error_code error;  // a missing directory lists nothing; the test below then fails
  for (const auto& entry : std::filesystem::directory_iterator(PARLEY_TRANSCRIPTS_DIR, error)) {
    if (entry.is_regular_file() && entry.path().extension() == ".txt") {
      files.push_back(std::string(PARLEY_TRANSCRIPTS_DIR) + "/" + entry.path().filename().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class Transcript : public ::testing::TestWithParam<std::string> {};

TEST_P(Transcript, Replays) {
  const Options options{make_store, rewriting()};
  for (const std::string& failure : run_file(GetParam(), options))
    ADD_FAILURE() << failure;
}

// A test named after each file's stem: ctest -R sync_window runs one.
std::string file_stem(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = std::filesystem::path(info.param).stem().string();
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
      '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Engine, Transcript, ::testing::ValuesIn(compiled_transcripts()),
                         file_stem);

// An empty or misplaced directory must fail, not pass with nothing run; so must a file added
// or removed since the build (rebuild: the build lists the directory again).
TEST(Transcripts, EveryFileInTheDirectoryRuns) {
  EXPECT_GE(transcript_files().size(), 10u) << PARLEY_TRANSCRIPTS_DIR;
  EXPECT_EQ(transcript_files(), compiled_transcripts()) << "rebuild parley_transcript_tests";
}

}  // namespace
}  // namespace parley::testing::transcript

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--store=", 8) == 0)
      parley::testing::transcript::g_store = argv[i] + 8;
  }
  const std::string& kind = parley::testing::transcript::g_store;
  if (kind != "memory" && kind != "lmdb" && kind != "pipelined") {
    std::fprintf(stderr, "--store must be memory, lmdb or pipelined\n");
    return 2;
  }
  return RUN_ALL_TESTS();
}
