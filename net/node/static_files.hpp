// Which file, if any, a GET for a static path may serve from the web root.
//
// The rule (docs/operations.md, "Static files"): only a regular file that resolves, after
// symlinks, to a path inside the canonical web root, reached by a plain relative path. A
// request path is refused when it is not rooted at "/", has an empty segment ("//", a
// trailing "/"), a "." or ".." segment, a segment starting with "." (hidden files), a
// backslash, a NUL or a malformed percent escape. Directories, devices, FIFOs and sockets
// are never served, nor files over kMaxStaticFileBytes. Every refusal is a plain 404: the
// answer does not tell an existing file outside the root from a missing one.
//
// Nothing here throws: filesystem errors become refusals.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::net {

// The largest static file served (the web client's bundle is ~100 KiB).
inline constexpr std::uint64_t kMaxStaticFileBytes = 32ull << 20;

// An open file descriptor the caller owns (and must close), with what to tell the client.
struct StaticFile {
  int fd = -1;
  std::uint64_t size = 0;
  std::string content_type;
};

// Opens the file that `request_path` (the target without its query) names under
// `web_root`, or returns fd -1. "/" means "/index.html".
StaticFile open_static_file(const std::string& web_root, std::string_view request_path);

// The Content-Type for a file name, by extension; application/octet-stream otherwise.
std::string content_type_for(std::string_view file_name);

}  // namespace parley::net
