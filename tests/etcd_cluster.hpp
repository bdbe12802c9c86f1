// A real three-member etcd cluster on 127.0.0.1 for one test (TOOLCHAIN.md: etcd 3.4 from
// Debian's etcd-server), on free ports, in a fresh directory; stopped by pid (SIGKILL) and
// removed at scope exit. Members can be killed and restarted to test failover.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.hpp"
#include "tests/process.hpp"
#include "tests/temp_dir.hpp"

namespace parley::testing {

// A port the kernel had free a moment ago (bind to 0, read it, close).
inline std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error("no free port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

class EtcdCluster {
 public:
  static constexpr std::size_t kMembers = 3;

  // A port taken between free_port() and etcd's bind (another test's server) makes a
  // member exit at once: then the whole cluster starts again on fresh ports, up to 3 times.
  EtcdCluster() {
    for (int attempt = 1;; ++attempt) {
      dir_ = std::make_unique<TempDir>("parley-etcd");
      initial_cluster_.clear();
      for (auto& member : members_) {
        member.client_port = free_port();
        member.peer_port = free_port();
      }
      for (std::size_t i = 0; i < kMembers; ++i) {
        initial_cluster_ += (i ? "," : "") + name(i) + "=" + peer_url(i);
      }
      for (std::size_t i = 0; i < kMembers; ++i)
        start(i);
      if (wait_until_serving()) return;
      for (std::size_t i = 0; i < kMembers; ++i)
        kill(i);
      if (attempt == 3) {
        throw std::runtime_error("etcd did not start (3 attempts); see " + dir_->path());
      }
    }
  }
  ~EtcdCluster() {
    for (std::size_t i = 0; i < kMembers; ++i)
      kill(i);
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& member : members_)
      out.push_back("127.0.0.1:" + std::to_string(member.client_port));
    return out;
  }

  void start(std::size_t i) {
    const std::string client = "http://127.0.0.1:" + std::to_string(members_[i].client_port);
    members_[i].pid = spawn_process({"/usr/bin/etcd",
                                     "--name",
                                     name(i),
                                     "--data-dir",
                                     dir_->path() + "/" + name(i),
                                     "--listen-client-urls",
                                     client,
                                     "--advertise-client-urls",
                                     client,
                                     "--listen-peer-urls",
                                     peer_url(i),
                                     "--initial-advertise-peer-urls",
                                     peer_url(i),
                                     "--initial-cluster",
                                     initial_cluster_,
                                     "--initial-cluster-state",
                                     "new",
                                     "--initial-cluster-token",
                                     "parley-test",
                                     "--heartbeat-interval",
                                     "50",
                                     "--election-timeout",
                                     "500"},
                                    dir_->path() + "/" + name(i) + ".log");
    if (members_[i].pid <= 0) throw std::runtime_error("could not start etcd");
  }

  // SIGKILL: the member's process dies at once, as in a machine crash.
  void kill(std::size_t i) {
    if (members_[i].pid <= 0) return;
    ::kill(members_[i].pid, SIGKILL);
    ::waitpid(members_[i].pid, nullptr, 0);
    members_[i].pid = 0;
  }

  // SIGTERM: the member stops gracefully, refusing what is in flight as it goes.
  void terminate(std::size_t i) {
    if (members_[i].pid <= 0) return;
    ::kill(members_[i].pid, SIGTERM);
    ::waitpid(members_[i].pid, nullptr, 0);
    members_[i].pid = 0;
  }

  // The member that is etcd's raft leader now (by its own status), or kMembers if none says so.
  std::size_t leader() const {
    for (std::size_t i = 0; i < kMembers; ++i) {
      if (members_[i].pid <= 0) continue;
      try {
        cluster::EtcdClient client({endpoints()[i]}, std::chrono::milliseconds(500));
        const auto status = client.status();
        if (status.leader != 0 && status.leader == status.member_id) return i;
      } catch (const std::exception&) {
      }
    }
    return kMembers;
  }

 private:
  struct Member {
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    pid_t pid = 0;
  };

  static std::string name(std::size_t i) { return "m" + std::to_string(i + 1); }
  std::string peer_url(std::size_t i) const {
    return "http://127.0.0.1:" + std::to_string(members_[i].peer_port);
  }

  // Until a write through any member commits (a leader was elected): true. False when a
  // member exited (its port was taken) or after 30 s.
  bool wait_until_serving() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& member : members_) {
        if (::waitpid(member.pid, nullptr, WNOHANG) == member.pid) {
          member.pid = 0;
          return false;
        }
      }
      try {
        cluster::EtcdClient client(endpoints(), std::chrono::milliseconds(1000));
        client.erase("/parley-test-ready");
        return true;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    return false;
  }

  std::unique_ptr<TempDir> dir_;
  std::array<Member, kMembers> members_{};
  std::string initial_cluster_;
};

}  // namespace parley::testing
