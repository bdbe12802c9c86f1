// Static files against a real node with a web root (issue: unauthenticated file read). Every
// request of the class "a path that leaves the web root or names something that is not a
// regular file inside it" must be a clean 404, and the node must keep serving.
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

namespace fs = std::filesystem;

// One raw HTTP/1.1 exchange: `request` is sent as given (no normalization of the target, as
// curl --path-as-is), and everything the node sends until it closes is returned.
std::string raw_http(std::uint16_t port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  const timeval timeout{5, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  char chunk[4096];
  boost::system::error_code ec;
  while (true) {
    const std::size_t n = socket.read_some(boost::asio::buffer(chunk), ec);
    if (ec) break;
    response.append(chunk, n);
  }
  return response;
}

std::string get(std::uint16_t port, const std::string& target, const std::string& method = "GET") {
  return raw_http(
      port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

int status_of(const std::string& response) {
  if (response.size() < 12) return 0;
  return std::stoi(response.substr(9, 3));
}

std::string body_of(const std::string& response) {
  const auto end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

class StaticFiles : public ::testing::Test {
 protected:
  static std::string make_root() {
    char pattern[] = "/tmp/parley-web-XXXXXX";
    const fs::path root = mkdtemp(pattern);
    std::ofstream(root / "index.html") << "<!doctype html><p>parley</p>";
    std::ofstream(root / "app.js") << "console.log('parley');";
    fs::create_directory(root / "assets");
    std::ofstream(root / "assets" / "style.css") << "body{}";
    std::ofstream(root / ".secret") << "hidden";
    fs::create_directory_symlink("/etc", root / "etc-link");
    fs::create_symlink("/etc/passwd", root / "passwd-link");
    fs::create_symlink("/proc/self/environ", root / "environ-link");
    fs::create_symlink("app.js", root / "inside-link.js");  // stays inside: served
    mkfifo((root / "fifo").c_str(), 0600);
    return root.string();
  }

  void TearDown() override { fs::remove_all(root); }

  void expect_refused(const std::string& target) {
    const std::string response = get(node.port(), target);
    EXPECT_EQ(status_of(response), 404) << target << "\n" << response.substr(0, 200);
    EXPECT_EQ(response.find("root:"), std::string::npos) << target;
    EXPECT_EQ(response.find("PATH="), std::string::npos) << target;
  }

  std::string root = make_root();
  NodeProcess node{{"--web-root", root}};
};

TEST_F(StaticFiles, ServesRegularFilesInsideTheRoot) {
  std::string response = get(node.port(), "/");
  EXPECT_EQ(status_of(response), 200);
  EXPECT_EQ(body_of(response), "<!doctype html><p>parley</p>");
  response = get(node.port(), "/app.js");
  EXPECT_EQ(status_of(response), 200);
  EXPECT_NE(response.find("text/javascript"), std::string::npos);
  EXPECT_EQ(body_of(response), "console.log('parley');");
  EXPECT_EQ(body_of(get(node.port(), "/assets/style.css")), "body{}");
  EXPECT_EQ(body_of(get(node.port(), "/inside-link.js")), "console.log('parley');");
  EXPECT_EQ(body_of(get(node.port(), "/%61pp.js")), "console.log('parley');");  // %61 = a
}

TEST_F(StaticFiles, RefusesEveryPathThatLeavesTheRootOrIsNotARegularFile) {
  for (const char* target : {"//etc/passwd",
                             "///etc/passwd",
                             "//proc/self/environ",
                             "/../../../../etc/passwd",
                             "/..%2f..%2f..%2f..%2fetc%2fpasswd",
                             "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                             "/%2fetc%2fpasswd",
                             "/assets/../../../../etc/passwd",
                             "/..\\..\\etc\\passwd",
                             "/etc-link/passwd",
                             "/passwd-link",
                             "/environ-link",
                             "/fifo",
                             "/assets",
                             "/assets/",
                             "/.secret",
                             "/%2esecret",
                             "/index.html%00.js",
                             "/%zz",
                             "/missing.js",
                             "/data/data.mdb",
                             "/proc/self/environ",
                             "/dev/zero",
                             "/./app.js",
                             "/assets//style.css"}) {
    expect_refused(target);
  }
  // A target that is not a path at all (absolute-form, asterisk) is refused too.
  EXPECT_EQ(status_of(get(node.port(), "*")), 404);
  EXPECT_EQ(status_of(get(node.port(), "http://127.0.0.1/etc/passwd")), 404);
  // The node is alive and still serves.
  EXPECT_EQ(node.http().request("GET", "/healthz").status, 200);
  EXPECT_EQ(status_of(get(node.port(), "/app.js")), 200);
}

TEST_F(StaticFiles, HeadSendsHeadersOnlyAndOtherMethodsAre405) {
  std::string response = get(node.port(), "/app.js", "HEAD");
  EXPECT_EQ(status_of(response), 200);
  EXPECT_NE(response.find("Content-Length: 22"), std::string::npos) << response;
  EXPECT_EQ(body_of(response), "") << "HEAD carries no body";
  for (const char* target : {"/healthz", "/v1/discover", "/nope"}) {
    response = get(node.port(), target, "HEAD");
    EXPECT_EQ(body_of(response), "") << target << " HEAD carries no body";
  }
  for (const std::string& method : std::vector<std::string>{"POST", "PUT", "DELETE"}) {
    response = raw_http(node.port(), method +
                                         " /app.js HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                         "0\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(status_of(response), 405) << method;
    EXPECT_NE(response.find("Allow: GET, HEAD"), std::string::npos) << response;
  }
}

}  // namespace
}  // namespace parley::testing
