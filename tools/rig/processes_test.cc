#include "tools/rig/processes.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
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

// A forked child whose main thread exits while another thread runs on: its
// leader shows as a zombie, but the process (and every fd and fcntl lock it
// holds) lives until that thread ends. When `lock_path` is given, the child
// first takes a write lock on it, as a daemon locks its pid file.
pid_t ForkZombieLeader(const std::string& lock_path) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (!lock_path.empty()) {
      int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT, 0644);
      struct flock lock {};
      lock.l_type = F_WRLCK;
      lock.l_whence = SEEK_SET;
      if (fd < 0 || ::fcntl(fd, F_SETLK, &lock) != 0) ::_exit(1);
    }
    pthread_t thread;
    ::pthread_create(
        &thread, nullptr,
        [](void*) -> void* {
          ::sleep(30);
          ::_exit(0);
        },
        nullptr);
    // The main thread alone ends (SYS_exit, not exit_group), without
    // pthread_exit's unwinding through the test framework's frames.
    ::syscall(SYS_exit, 0);
  }
  return pid;
}

// Polls (bounded) until the main thread of `pid` is a zombie.
bool WaitLeaderZombie(pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    size_t close = stat.rfind(')');
    if (close != std::string::npos && stat.size() > close + 2 && stat[close + 2] == 'Z') {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Regression (issue 5, rig start-host after kill-host): a SIGKILLed sanlock
// daemon whose I/O thread still waited in the kernel looked gone (its
// leader was a zombie) while it still held sanlock.pid's lock and its
// socket, so the new daemon exited at start.
TEST_CASE("a process whose main thread exited is alive until its last thread is",
          "[rig]") {
  const std::string dir = TempDir();
  const std::string pid_file = dir + "/daemon.pid";
  pid_t pid = ForkZombieLeader(pid_file);
  REQUIRE(WaitLeaderZombie(pid));
  Result<uint64_t> start = ProcessStartTime(pid);
  REQUIRE(start.ok());
  const ProcessRecord record{pid, *start};
  CHECK(GetProcessState(record) == ProcessState::kExiting);
  CHECK(IsAlive(record));
  // What the next daemon would find: the lock is still held.
  Result<pid_t> holder = FcntlLockHolder(pid_file);
  REQUIRE(holder.ok());
  CHECK(*holder == pid);
  CHECK_FALSE(WaitGone({record}, std::chrono::milliseconds(100)));

  ::kill(pid, SIGKILL);
  CHECK(WaitGone({record}, std::chrono::seconds(10)));
  CHECK(GetProcessState(record) == ProcessState::kGone);
  holder = FcntlLockHolder(pid_file);
  REQUIRE(holder.ok());
  CHECK(*holder == 0);
  CHECK(FcntlLockHolder(dir + "/missing").status().code() == Code::kNotFound);
  ::unlink(pid_file.c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("the listener of a Unix socket is known by its pid", "[rig]") {
  const std::string dir = TempDir();
  const std::string path = dir + "/s.sock";
  CHECK(UnixSocketListenerPid(path).status().code() == Code::kUnavailable);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  Result<pid_t> listener = UnixSocketListenerPid(path);
  REQUIRE(listener.ok());
  CHECK(*listener == ::getpid());
  ::close(fd);
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace sanpool::rig
