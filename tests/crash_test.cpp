// Kills a writer process (engine + LMDB with fsync) with SIGKILL at random points, at least
// 20 times, then reopens the store and checks that every acked message is there, in
// order, with gap-free sequences, and that nothing half-written is visible.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "engine/engine.hpp"
#include "engine/records.hpp"
#include "storage/lmdb_store.hpp"

namespace parley::storage {
namespace {

using namespace parley::engine;

struct Ack {
  ChannelId channel;
  Seq seq;
};

// Starts the writer; returns its pid and the read end of its stdout.
std::pair<pid_t, int> spawn_writer(const std::string& dir, std::uint64_t first) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    const std::string start = std::to_string(first);
    execl(PARLEY_CRASH_WRITER, PARLEY_CRASH_WRITER, dir.c_str(), start.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

TEST(Crash, EveryAckedMessageSurvivesSigkill) {
  const std::string dir = make_temp_directory("parley-crash");
  std::mt19937_64 random(20261128);  // fixed: the kill points differ run to run anyway
  std::map<std::uint64_t, Ack> acked;
  std::uint64_t next = 1;
  int kills = 0;
  for (int round = 0; round < 25; ++round) {
    auto [pid, out] = spawn_writer(dir, next);
    // Kill at a random point after the writer is under way: wait for its first ack (at most
    // 30 s), so a slow start (ASan, a busy machine) cannot leave the round without writes.
    pollfd ready{out, POLLIN, 0};
    ::poll(&ready, 1, 30'000);
    std::this_thread::sleep_for(std::chrono::milliseconds(10 + random() % 120));
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++kills;
    // Read every ack the writer printed before it died.
    FILE* stream = fdopen(out, "r");
    char line[128];
    while (std::fgets(line, sizeof line, stream) != nullptr) {
      unsigned long long n = 0, channel = 0, seq = 0;
      ASSERT_EQ(std::sscanf(line, "ack m%llu %llu %llu", &n, &channel, &seq), 3) << line;
      const auto [it, fresh] = acked.try_emplace(n, Ack{channel, seq});
      if (!fresh) {
        // A resend after the crash: it must be answered with the original coordinates.
        EXPECT_EQ(it->second.channel, channel) << "m" << n;
        EXPECT_EQ(it->second.seq, seq) << "m" << n;
      }
    }
    std::fclose(stream);
    // The next writer resends everything after the last ack it is sure of.
    next = acked.empty() ? 1 : acked.rbegin()->first + 1;
  }
  EXPECT_GE(kills, 20);
  EXPECT_GT(acked.size(), 50u) << "the writer barely wrote: the test proves little";

  LmdbStore store(dir);
  Engine engine(store);
  store.begin();
  engine.open();
  const Records records(store);
  for (const auto& [n, ack] : acked) {
    const auto message = records.message({ack.channel, ack.seq});
    ASSERT_TRUE(message.has_value()) << "acked m" << n << " is lost";
    EXPECT_EQ(message->client_msg_id, "m" + std::to_string(n));
    EXPECT_EQ(message->text.rfind("message " + std::to_string(n) + " ", 0), 0u);
  }
  // Channels: seqs exactly 1..last_seq, nothing past it, no client_msg_id stored twice.
  std::set<std::string> stored_ids;
  for (ChannelId id = 1; records.channel(id); ++id) {
    const auto channel = *records.channel(id);
    const auto messages = records.messages(id, 1, UINT64_MAX);
    ASSERT_EQ(messages.size(), channel.last_seq) << "channel " << id;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      EXPECT_EQ(messages[i].seq, i + 1);
      if (messages[i].kind == MessageKind::text) {
        EXPECT_TRUE(stored_ids.insert(messages[i].client_msg_id).second)
            << messages[i].client_msg_id << " stored twice";
      }
    }
  }
  // Inboxes: gap-free 1..head, each entry pointing at a stored message.
  for (UserId user = 1; records.user(user); ++user) {
    const auto inbox = records.inbox_after(user, 0, SIZE_MAX);
    ASSERT_EQ(inbox.size(), records.inbox_head(user)) << "user " << user;
    for (std::size_t i = 0; i < inbox.size(); ++i) {
      EXPECT_EQ(inbox[i].inbox_seq, i + 1);
      EXPECT_TRUE(records.message(inbox[i].message).has_value());
    }
  }
  store.abort();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace parley::storage
