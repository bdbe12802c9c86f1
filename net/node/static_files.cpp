#include "net/node/static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <system_error>
#include <vector>

namespace parley::net {
namespace {

namespace fs = std::filesystem;

// Longer request paths are refused before any filesystem call.
constexpr std::size_t kMaxRequestPathBytes = 1024;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

// The path's segments, or nothing when any segment is not a plain file or folder name.
std::optional<std::vector<std::string>> safe_segments(std::string_view request_path) {
  if (request_path.empty() || request_path.size() > kMaxRequestPathBytes) return std::nullopt;
  if (request_path.front() != '/') return std::nullopt;
  const auto decoded = percent_decode(request_path);
  if (!decoded) return std::nullopt;
  if (*decoded == "/") return std::vector<std::string>{"index.html"};
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (start <= decoded->size()) {
    const std::size_t slash = std::min(decoded->find('/', start), decoded->size());
    const std::string segment = decoded->substr(start, slash - start);
    if (segment.empty() || segment.front() == '.') return std::nullopt;  // "//", ".", "..", hidden
    for (const char c : segment) {
      if (c == '\0' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
    }
    segments.push_back(segment);
    start = slash + 1;
  }
  return segments;
}

// True when `path` is `root` itself or lies below it, component by component.
bool inside(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (p == path.end() || *r != *p) return false;
  }
  return true;
}

}  // namespace

std::string content_type_for(std::string_view file_name) {
  const auto dot = file_name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? "" : file_name.substr(dot);
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".woff2") return "font/woff2";
  return "application/octet-stream";
}

StaticFile open_static_file(const std::string& web_root, std::string_view request_path) {
  if (web_root.empty()) return {};
  const auto segments = safe_segments(request_path);
  if (!segments) return {};
  std::error_code ec;
  const fs::path root = fs::canonical(web_root, ec);
  if (ec) return {};
  fs::path candidate = root;
  for (const std::string& segment : *segments)
    candidate /= segment;
  // Resolves every symlink: a link that points outside the root fails the check below.
  const fs::path resolved = fs::canonical(candidate, ec);
  if (ec || !inside(root, resolved) || resolved == root) return {};
  // O_NONBLOCK: opening a FIFO must not block the I/O thread; O_NOFOLLOW: the last component
  // cannot have become a symlink since canonical() looked.
  const int fd =
      ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return {};
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::uint64_t>(info.st_size) > kMaxStaticFileBytes) {
    ::close(fd);
    return {};
  }
  return {fd, static_cast<std::uint64_t>(info.st_size),
          content_type_for(resolved.filename().string())};
}

}  // namespace parley::net
