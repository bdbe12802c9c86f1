// The login throttle's rules and the static file resolver, without a node.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "net/node/login_guard.hpp"
#include "net/node/static_files.hpp"

namespace parley::net {
namespace {

constexpr std::int64_t kSecond = 1'000'000;

TEST(LoginThrottle, AnAddressGetsItsBurstThenRefills) {
  LoginThrottleOptions options;
  options.address_burst = 3;
  options.address_attempts_per_second = 1;
  LoginThrottle throttle(options);
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(throttle.admit("10.0.0.1", "", 0)) << i;
  EXPECT_EQ(throttle.admit("10.0.0.1", "", 0), 1);
  EXPECT_FALSE(throttle.admit("10.0.0.2", "", 0)) << "other addresses are not affected";
  EXPECT_FALSE(throttle.admit("10.0.0.1", "", kSecond)) << "one token back after a second";
}

TEST(LoginThrottle, FailuresDelayTheAccountWithADoublingCappedDelay) {
  LoginThrottleOptions options;
  options.address_burst = 1000;
  LoginThrottle throttle(options);
  std::int64_t now = 0;
  for (std::uint32_t i = 0; i < options.free_failures; ++i) {
    EXPECT_FALSE(throttle.admit("ip", "alice", now));
    throttle.failed("alice", now);
  }
  EXPECT_FALSE(throttle.admit("ip", "alice", now)) << "the free failures cost nothing";
  throttle.failed("alice", now);  // 6th: 1 s
  EXPECT_EQ(throttle.admit("ip", "alice", now), 1);
  EXPECT_FALSE(throttle.admit("ip", "bob", now)) << "other accounts are not affected";
  now += kSecond;
  throttle.failed("alice", now);  // 7th: 2 s
  EXPECT_EQ(throttle.admit("ip", "alice", now), 2);
  for (int i = 0; i < 20; ++i)
    throttle.failed("alice", now);
  EXPECT_EQ(throttle.admit("ip", "alice", now), 60) << "capped at a minute";
  throttle.succeeded("alice");
  EXPECT_FALSE(throttle.admit("ip", "alice", now)) << "a success forgets the failures";
}

TEST(LoginThrottle, ParallelAttemptsOnOneAccountAreCapped) {
  LoginThrottleOptions options;
  options.address_burst = 1000;
  LoginThrottle throttle(options);
  EXPECT_FALSE(throttle.admit("ip1", "alice", 0));
  EXPECT_FALSE(throttle.admit("ip2", "alice", 0));
  EXPECT_EQ(throttle.admit("ip3", "alice", 0), 1) << "two attempts in flight at most";
  throttle.failed("alice", 0);
  EXPECT_FALSE(throttle.admit("ip3", "alice", 0)) << "a verdict frees a slot";
  throttle.released("alice");
  throttle.succeeded("alice");
  EXPECT_FALSE(throttle.admit("ip4", "alice", 0));
  EXPECT_FALSE(throttle.admit("ip4", "", 0)) << "sign-ups hold no account slot";
}

TEST(LoginThrottle, TrackedEntriesAreBounded) {
  LoginThrottleOptions options;
  options.max_tracked = 10;
  options.address_burst = 1;
  LoginThrottle throttle(options);
  for (int i = 0; i < 1000; ++i)
    throttle.admit("ip" + std::to_string(i), "", 0);
  // The oldest addresses were forgotten, so their bucket is full again.
  EXPECT_FALSE(throttle.admit("ip0", "", 0));
  EXPECT_TRUE(throttle.admit("ip999", "", 0));
}

TEST(HashingQueue, RefusesPastItsBound) {
  HashingQueue queue(2);
  std::promise<void> release;
  auto gate = release.get_future().share();
  EXPECT_TRUE(queue.try_post([gate] { gate.wait(); }));  // running or waiting
  int accepted = 0;
  for (int i = 0; i < 5; ++i)
    accepted += queue.try_post([] {});
  EXPECT_LE(accepted, 2);
  release.set_value();
  queue.join();
}

TEST(StaticFiles, ResolvesOnlyRegularFilesInsideTheRoot) {
  char pattern[] = "/tmp/parley-static-XXXXXX";
  const std::filesystem::path root = mkdtemp(pattern);
  std::ofstream(root / "index.html") << "hi";
  std::filesystem::create_symlink("/etc/hostname", root / "out");
  const auto opens = [&](const char* path) {
    const StaticFile file = open_static_file(root.string(), path);
    if (file.fd >= 0) close(file.fd);
    return file.fd >= 0;
  };
  EXPECT_TRUE(opens("/"));
  EXPECT_TRUE(opens("/index.html"));
  EXPECT_FALSE(opens("//etc/hostname"));
  EXPECT_FALSE(opens("/out"));
  EXPECT_FALSE(opens("/../index.html"));
  EXPECT_FALSE(opens("index.html"));
  EXPECT_FALSE(opens("/index.html/"));
  EXPECT_FALSE(opens("/%"));
  EXPECT_FALSE(opens("/%4"));
  EXPECT_EQ(open_static_file("", "/index.html").fd, -1) << "no web root, no files";
  EXPECT_EQ(content_type_for("a.js"), "text/javascript; charset=utf-8");
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace parley::net
