// A std::thread that carries a name, so `top -H`, `perf -t` and `gdb` tell the node's
// threads apart (docs/operations.md lists them). Here, the lowest layer that runs threads
// (the committer), so that net/ uses the same one.
#pragma once

#include <pthread.h>

#include <thread>
#include <utility>

namespace parley::storage {

// `name`: a string literal of at most 15 bytes (Linux's limit; a longer one is not set).
template <typename F>
std::thread named_thread(const char* name, F body) {
  return std::thread([name, body = std::move(body)]() mutable {
    ::pthread_setname_np(::pthread_self(), name);
    body();
  });
}

}  // namespace parley::storage
