#include "tools/rig/processes.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace sanpool::rig {
namespace {

std::string TempDir() {
  std::string pattern = "/tmp/rig-processes-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

TEST_CASE("a detached child runs in its own session and logs to its file", "[rig]") {
  const std::string dir = TempDir();
  const std::string log = dir + "/child.log";
  Result<ProcessRecord> child = SpawnDetached(
      {.argv = {"/bin/sh", "-c", "echo \"$RIG_TEST_VAR\"; echo err >&2; exec sleep 30"},
       .env_set = {{"RIG_TEST_VAR", "hello"}},
       .log_path = log});
  REQUIRE(child.ok());
  REQUIRE(child->pid > 0);
  CHECK(child->start_time > 0);
  CHECK(IsAlive(*child));
  CHECK(::getsid(child->pid) == child->pid);
  CHECK(::getpgid(child->pid) == child->pid);

  // The shell writes before it becomes `sleep`; give it (bounded) time.
  auto read_log = [&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read_log().size() < 10 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(read_log() == "hello\nerr\n");
  SignalProcess(*child, SIGKILL);
  CHECK(WaitGone({*child}, std::chrono::seconds(10)));
  CHECK_FALSE(IsAlive(*child));
  ::unlink(log.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("a record with another start time is not the process", "[rig]") {
  Result<uint64_t> self = ProcessStartTime(::getpid());
  REQUIRE(self.ok());
  CHECK(IsAlive({::getpid(), *self}));
  CHECK_FALSE(IsAlive({::getpid(), *self + 1}));
  CHECK_FALSE(IsAlive({0, 0}));
  // Signalling a record that does not match must not reach us.
  SignalProcess({::getpid(), *self + 1}, SIGKILL);
  CHECK(ProcessStartTime(-1).status().code() == Code::kNotFound);
}

TEST_CASE("spawning a missing binary fails", "[rig]") {
  Result<ProcessRecord> child =
      SpawnDetached({.argv = {"/nonexistent/rig-binary"}, .log_path = "/dev/null"});
  CHECK_FALSE(child.ok());
  CHECK(SpawnDetached({.log_path = "/dev/null"}).status().code() == Code::kInvalidArgument);
}

TEST_CASE("rig processes are found only among the rig's programs", "[rig]") {
  // A detached `sleep` naming the directory is none of sanlock /
  // sanpool-agent / sanpool-dmemu.
  const std::string dir = TempDir();
  Result<ProcessRecord> sleeper = SpawnDetached(
      {.argv = {"/bin/sleep", "30"}, .env_set = {{"SANLOCK_RUN_DIR", dir + "/h1"}},
       .log_path = "/dev/null"});
  REQUIRE(sleeper.ok());
  CHECK(FindRigProcesses(dir).empty());
  SignalProcess(*sleeper, SIGKILL);
  CHECK(WaitGone({*sleeper}, std::chrono::seconds(10)));
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace sanpool::rig
