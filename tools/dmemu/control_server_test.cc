#include "tools/dmemu/control_server.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "domains/dm/user_dm.h"
#include "tools/dmemu/test_util.h"

namespace sanpool::dmemu {
namespace {

TEST_CASE("the control socket answers each line and is private") {
  TempDir dir;
  const std::string path = dir.path() + "/ctl.sock";
  auto server = ControlServer::Start(path, [](std::string_view line) {
    CHECK(line == R"({"op":"list"})");
    return std::string(R"({"ok":true,"names":["x-y"]})");
  });
  REQUIRE(server.ok());
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  dm::UserDeviceMapper client({.socket_path = path, .run_dir = dir.path()});
  for (int i = 0; i < 3; ++i) {
    auto names = client.List();
    REQUIRE(names.ok());
    CHECK(*names == std::vector<std::string>{"x-y"});
  }
  // A second server on a live socket is refused.
  CHECK(ControlServer::Start(path, nullptr).status().code() ==
        Code::kAlreadyExists);
  (*server)->Stop();
  CHECK(::access(path.c_str(), F_OK) != 0);
  CHECK(client.List().status().code() == Code::kUnavailable);
}

TEST_CASE("a stale socket file is replaced") {
  TempDir dir;
  const std::string path = dir.path() + "/ctl.sock";
  {
    auto first = ControlServer::Start(
        path, [](std::string_view) { return std::string("{}"); });
    REQUIRE(first.ok());
    // Leave the file behind as a crashed daemon would.
    ::link(path.c_str(), (path + ".keep").c_str());
  }
  ::rename((path + ".keep").c_str(), path.c_str());
  auto second = ControlServer::Start(
      path, [](std::string_view) { return std::string(R"({"ok":true})"); });
  REQUIRE(second.ok());
}

}  // namespace
}  // namespace sanpool::dmemu
