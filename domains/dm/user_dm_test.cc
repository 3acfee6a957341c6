#include "domains/dm/user_dm.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "base/unique_fd.h"

namespace sanpool::dm {
namespace {

// A stand-in daemon: answers each connection's one request line with the
// next scripted answer and records the requests.
class ScriptedDaemon {
 public:
  explicit ScriptedDaemon(std::vector<std::string> answers)
      : answers_(std::move(answers)) {
    std::string templ = "/tmp/sanpool-userdm-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
    socket_path_ = dir_ + "/dmemu.sock";
    listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, socket_path_.c_str());
    REQUIRE(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr),
                   sizeof(addr)) == 0);
    REQUIRE(::listen(listener_.get(), 8) == 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedDaemon() {
    Join();
    std::filesystem::remove_all(dir_);
  }

  // Waits until every scripted answer was given; returns the request lines.
  const std::vector<std::string>& Join() {
    if (thread_.joinable()) thread_.join();
    return requests_;
  }

  UserDmOptions Options() const {
    return {.socket_path = socket_path_, .run_dir = dir_,
            .timeout = std::chrono::seconds(10)};
  }

 private:
  void Serve() {
    for (const std::string& answer : answers_) {
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) return;
      std::string line;
      char c;
      while (::read(conn.get(), &c, 1) == 1 && c != '\n') line += c;
      requests_.push_back(line);
      std::string out = answer + "\n";
      (void)!::write(conn.get(), out.data(), out.size());
    }
  }

  std::vector<std::string> answers_;
  std::vector<std::string> requests_;
  std::string dir_;
  std::string socket_path_;
  UniqueFd listener_;
  std::thread thread_;
};

Table OneSegment() {
  return {{.start_sector = 0, .length_sectors = 8, .device = "/dev/loop0",
           .device_offset_sector = 0}};
}

TEST_CASE("a missing daemon is unavailable") {
  UserDeviceMapper dm({.socket_path = "/nonexistent/sanpool/dmemu.sock",
                       .run_dir = "/run/x"});
  CHECK(dm.List().status().code() == Code::kUnavailable);
  CHECK(dm.Create("vg-lv", "", OneSegment()).code() == Code::kUnavailable);
  CHECK(dm.DevicePath("vg-lv") == "/run/x/dev/vg-lv");
}

TEST_CASE("requests are sent as protocol lines and answers decoded") {
  ScriptedDaemon daemon({
      R"({"ok":true})",
      R"({"ok":true,"info":{"exists":true,"size":4096,"open_count":1,)"
      R"("read_only":false,"device":"/dev/loop5"}})",
      R"({"ok":true,"names":["vg-lv"]})",
      R"({"ok":false,"error":{"code":"FAILED_PRECONDITION","message":"open"}})",
  });
  UserDeviceMapper dm(daemon.Options());
  CHECK(dm.Create("vg-lv", "LVM-u", OneSegment()).ok());
  auto info = dm.Info("vg-lv");
  REQUIRE(info.ok());
  CHECK(info->exists);
  CHECK(info->size_bytes == 4096);
  CHECK(info->open_count == 1);
  auto names = dm.List();
  REQUIRE(names.ok());
  CHECK(*names == std::vector<std::string>{"vg-lv"});
  Status removed = dm.Remove("vg-lv", RemoveMode::kNormal);
  CHECK(removed.code() == Code::kFailedPrecondition);
  CHECK(removed.message() == "dmemu: open");
  // Invalid input never reaches the daemon.
  CHECK(dm.Reload("bad/name", OneSegment()).code() == Code::kInvalidArgument);
  CHECK(dm.Reload("vg-lv", {}).code() == Code::kInvalidArgument);

  const std::vector<std::string>& requests = daemon.Join();
  REQUIRE(requests.size() == 4);
  auto create = DecodeRequest(requests[0]);
  REQUIRE(create.ok());
  CHECK(create->op == DmemuOp::kCreate);
  CHECK(create->uuid == "LVM-u");
  CHECK(create->table == OneSegment());
  CHECK(requests[1] == R"({"op":"info","name":"vg-lv"})");
  CHECK(requests[2] == R"({"op":"list"})");
  CHECK(requests[3] == R"({"op":"remove","name":"vg-lv","force":false})");
}

}  // namespace
}  // namespace sanpool::dm
