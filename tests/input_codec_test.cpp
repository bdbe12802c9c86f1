// cluster/input_codec.hpp: a batch survives its log entry exactly, for every kind of engine
// input, and an entry that does not decode is refused (a replica must stop, not guess).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cluster/input_codec.hpp"

namespace {

using namespace parley::engine;
using parley::cluster::CorruptEntry;
using parley::cluster::decode_batch;
using parley::cluster::encode_batch;
using parley::cluster::LoggedBatch;

LoggedBatch every_kind() {
  LoggedBatch batch;
  batch.now = 1'764'000'000'123'456;
  batch.inputs = {
      Connected{7, 42, 1'000'000},
      Received{7, client::Send{9, 0, 5, "m-1", "héllo \xF0\x9F\x98\x80"}},
      Received{7, client::Ack{77}},
      Received{8, client::CreateGroup{10, "team", {2, 3, 4}}},
      Disconnected{7},
      Tick{},
      PushResult{123, PushOutcome::dead_token},
      SignUp{"alice", std::string("\x00\x01hash\xff", 7)},
      IssueToken{5, 0, "phone", "verified", "token-hash", 1'770'000'000'000'000},
      SignOut{5, {11, 12}, false},
      SignOut{6, {}, true},
      ChangePassword{5, 11, "new-hash"},
      Stateless{5, 11, client::History{3, 2, 100, 50}},
  };
  return batch;
}

TEST(InputCodec, EveryKindOfInputSurvivesItsEntry) {
  const LoggedBatch batch = every_kind();
  const std::string bytes = encode_batch(batch);
  const LoggedBatch back = decode_batch(bytes);
  EXPECT_EQ(back.now, batch.now);
  ASSERT_EQ(back.inputs.size(), batch.inputs.size());
  for (std::size_t i = 0; i < batch.inputs.size(); ++i)
    EXPECT_EQ(back.inputs[i].index(), batch.inputs[i].index()) << "input " << i;
  EXPECT_EQ(encode_batch(back), bytes) << "decode then encode gives the same bytes";

  const auto& send = std::get<client::Send>(std::get<Received>(back.inputs[1]).request);
  EXPECT_EQ(send.text, "héllo \xF0\x9F\x98\x80");
  EXPECT_EQ(send.client_msg_id, "m-1");
  EXPECT_EQ(send.peer, 5u);
  EXPECT_EQ(std::get<PushResult>(back.inputs[6]).outcome, PushOutcome::dead_token);
  EXPECT_EQ(std::get<SignUp>(back.inputs[7]).password_hash, std::string("\x00\x01hash\xff", 7));
  EXPECT_EQ(std::get<IssueToken>(back.inputs[8]).expires_at, 1'770'000'000'000'000);
  EXPECT_EQ(std::get<SignOut>(back.inputs[9]).devices, (std::vector<DeviceId>{11, 12}));
  EXPECT_TRUE(std::get<SignOut>(back.inputs[10]).all_devices);
  EXPECT_EQ(std::get<Stateless>(back.inputs[12]).device, 11u);
  EXPECT_EQ(std::get<client::History>(std::get<Stateless>(back.inputs[12]).request).limit, 50u);
}

TEST(InputCodec, AnEmptyBatchIsAnEntryToo) {
  const LoggedBatch back = decode_batch(encode_batch(LoggedBatch{5, {}}));
  EXPECT_EQ(back.now, 5);
  EXPECT_TRUE(back.inputs.empty());
}

TEST(InputCodec, AnEntryThatDoesNotDecodeIsRefused) {
  const std::string bytes = encode_batch(every_kind());
  // Every truncation, trailing bytes, another version, an unknown kind, a count too large.
  for (std::size_t length = 0; length < bytes.size(); ++length)
    EXPECT_THROW(decode_batch(bytes.substr(0, length)), CorruptEntry) << "length " << length;
  EXPECT_THROW(decode_batch(bytes + "x"), CorruptEntry);
  std::string other_version = bytes;
  other_version[0] = '\x09';
  EXPECT_THROW(decode_batch(other_version), CorruptEntry);
  const std::string unknown_kind = encode_batch(LoggedBatch{1, {Tick{}}});
  std::string patched = unknown_kind;
  patched.back() = '\x0a';  // the Tick's kind tag, 3, becomes 10
  EXPECT_THROW(decode_batch(patched), CorruptEntry);
  std::string too_many = encode_batch(LoggedBatch{1, {}});
  too_many.back() = '\x05';  // the count: 5 inputs, none follow
  EXPECT_THROW(decode_batch(too_many), CorruptEntry);
}

// The fuzzer's seeds (tests/fuzz/corpus/log_entry, written by hand to the format above)
// are valid entries: the fuzzer starts from real batches of every kind. A request that
// gained a field (Send's replyTo) still decodes from an older seed but encodes longer:
// PARLEY_REWRITE=1 rewrites the seeds as the codec writes them now.
TEST(InputCodec, TheFuzzSeedsAreValidEntries) {
  std::size_t seeds = 0;
  for (const auto& file : std::filesystem::directory_iterator(PARLEY_LOG_ENTRY_CORPUS)) {
    std::ifstream in(file.path(), std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), {}};
    if (std::getenv("PARLEY_REWRITE") != nullptr) {
      std::ofstream(file.path(), std::ios::binary | std::ios::trunc)
          << encode_batch(decode_batch(bytes));
      ++seeds;
      continue;
    }
    EXPECT_NO_THROW(decode_batch(bytes)) << file.path();
    EXPECT_EQ(encode_batch(decode_batch(bytes)), bytes) << file.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 5u);
}

}  // namespace
