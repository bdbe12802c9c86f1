// A fresh temporary directory for one test, removed with everything in it at scope exit.
#pragma once

#include <filesystem>
#include <string>

#include "storage/lmdb_store.hpp"

namespace parley::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "parley-test")
      : path_(storage::make_temp_directory(prefix)) {}
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace parley::testing
