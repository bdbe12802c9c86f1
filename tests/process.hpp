// Starting a test's server processes (parley nodes, etcd members) on 127.0.0.1; each test
// stops what it started, by pid.
#pragma once

#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace parley::testing {

// Starts `args` (argv[0] is the binary) with stderr appended to `stderr_path`.
inline pid_t spawn_process(std::vector<std::string> args, const std::string& stderr_path) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& arg : args)
      argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (freopen(stderr_path.c_str(), "a", stderr) == nullptr) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace parley::testing
