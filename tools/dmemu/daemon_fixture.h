// Test fixture: one sanpool-dmemu daemon ("host") started from the binary
// named by SANPOOL_DMEMU, with a UserDeviceMapper client. The destructor
// stops it (SIGTERM, SIGKILL after 20 s) and unmounts what a killed daemon
// left, so a failing test never leaves a daemon or a FUSE mount behind.
// Used by the dmemu and block-domain system tests.
#ifndef SANPOOL_TOOLS_DMEMU_DAEMON_FIXTURE_H_
#define SANPOOL_TOOLS_DMEMU_DAEMON_FIXTURE_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "domains/dm/user_dm.h"

namespace sanpool::dmemu {

// One sanpool-dmemu process ("host").
class Daemon {
 public:
  Daemon(const std::string& root, const std::string& host) {
    mount_ = root + "/" + host + "/mnt";
    run_dir_ = root + "/" + host + "/run";
    socket_ = root + "/" + host + "/dmemu.sock";
    std::filesystem::create_directories(root + "/" + host);
    const char* binary = std::getenv("SANPOOL_DMEMU");
    REQUIRE(binary != nullptr);
    log_ = root + "/" + host + "/dmemu.log";
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int log_fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execl(binary, binary, "--mount", mount_.c_str(), "--socket",
              socket_.c_str(), "--run-dir", run_dir_.c_str(), nullptr);
      ::_exit(127);
    }
    client_ = std::make_unique<dm::UserDeviceMapper>(dm::UserDmOptions{
        .socket_path = socket_, .run_dir = run_dir_});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!client_->List().ok()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      REQUIRE(Running());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~Daemon() { Stop(); }

  dm::UserDeviceMapper& dm() { return *client_; }
  const std::string& mount() const { return mount_; }
  const std::string& socket() const { return socket_; }
  const std::string& run_dir() const { return run_dir_; }
  // The daemon's stdout and stderr so far.
  std::string Log() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGTERM, then SIGKILL after 20 s; returns the wait status. Cleans up a
  // mount a killed daemon left behind.
  int Stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (Running() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        exit_status_ = status;
        pid_ = -1;
      }
    }
    if (IsMounted(mount_)) ::umount2(mount_.c_str(), MNT_DETACH);
    return exit_status_;
  }

  static bool IsMounted(const std::string& dir) {
    std::ifstream in("/proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.find(" " + dir + " ") != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::string mount_, run_dir_, socket_, log_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::unique_ptr<dm::UserDeviceMapper> client_;
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_DAEMON_FIXTURE_H_
