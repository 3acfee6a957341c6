// sanpool-dmemu: a per-host user-space device mapper for machines without
// the kernel's dm driver (DESIGN.md "Device-mapper", RIG.md).
//
//   sanpool-dmemu --mount DIR --socket PATH --run-dir DIR [--log-level L]
//
// Mounts a FUSE file system at DIR (one file per mapped device), puts a loop
// device on each file (<run-dir>/dev/<name> -> /dev/loopN) and serves the
// control protocol (domains/dm/dmemu_protocol.h) on PATH. Mappings live as
// long as the daemon: clients (the agent) may restart freely.
//
// SIGTERM / SIGINT: removes every mapping (detaching the loops), unmounts,
// removes the socket and exits 0. Exit 1 on start-up failure, 2 on usage.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "base/log.h"
#include "domains/dm/dmemu_protocol.h"
#include "tools/dmemu/control_server.h"
#include "tools/dmemu/emulator.h"
#include "tools/dmemu/fuse_fs.h"
#include "tools/dmemu/loop_device.h"

namespace sanpool::dmemu {
namespace {

constexpr char kUsage[] =
    "usage: sanpool-dmemu --mount DIR --socket PATH --run-dir DIR "
    "[--log-level debug|info|warning|error]\n";

struct Flags {
  std::string mount;
  std::string socket;
  std::string run_dir;
  std::string log_level = "info";
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string* target = nullptr;
    if (arg == "--mount") target = &flags->mount;
    if (arg == "--socket") target = &flags->socket;
    if (arg == "--run-dir") target = &flags->run_dir;
    if (arg == "--log-level") target = &flags->log_level;
    if (target == nullptr || i + 1 >= argc) return false;
    *target = argv[++i];
  }
  return !flags->mount.empty() && !flags->socket.empty() &&
         !flags->run_dir.empty();
}

Status EnsureDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, "mkdir " + path);
  }
  return Status::Ok();
}

std::string HandleLine(Emulator& emulator, std::string_view line) {
  Result<dm::DmemuRequest> request = dm::DecodeRequest(line);
  dm::DmemuResponse response;
  if (!request.ok()) {
    response.status = request.status();
  } else {
    response = emulator.Handle(*request);
  }
  return dm::EncodeResponse(response);
}

// Written by the signal handler, read by the main thread. A handler (not
// sigwait) because threads we do not create (sanitizer runtimes, libraries)
// may not have the stop signals blocked.
int g_stop_pipe[2] = {-1, -1};

void OnStopSignal(int signo) {
  const char byte = static_cast<char>(signo);
  (void)!::write(g_stop_pipe[1], &byte, 1);
}

Status InstallStopHandler() {
  if (::pipe2(g_stop_pipe, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe");
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int signo : {SIGTERM, SIGINT, SIGHUP}) {
    if (::sigaction(signo, &action, nullptr) != 0) {
      return ErrnoToStatus(errno, "sigaction");
    }
  }
  ::signal(SIGPIPE, SIG_IGN);
  return Status::Ok();
}

int WaitForStopSignal() {
  char byte = 0;
  while (::read(g_stop_pipe[0], &byte, 1) != 1) {
  }
  return byte;
}

int Run(const Flags& flags) {
  if (Status s = InstallStopHandler(); !s.ok()) {
    log::Error("dmemu", "cannot install signal handlers",
               {{"error", s.ToString()}});
    return 1;
  }
  for (const std::string& dir : {flags.mount, flags.run_dir}) {
    if (Status s = EnsureDir(dir); !s.ok()) {
      log::Error("dmemu", "cannot create directory", {{"error", s.ToString()}});
      return 1;
    }
  }
  PosixLoopManager loops;
  Emulator emulator({.mount_dir = flags.mount, .run_dir = flags.run_dir},
                    loops);
  Result<std::unique_ptr<FuseFs>> fs = FuseFs::Mount(flags.mount, emulator);
  if (!fs.ok()) {
    log::Error("dmemu", "mount failed", {{"error", fs.status().ToString()}});
    return 1;
  }
  Result<std::unique_ptr<ControlServer>> server = ControlServer::Start(
      flags.socket,
      [&emulator](std::string_view line) { return HandleLine(emulator, line); });
  if (!server.ok()) {
    log::Error("dmemu", "control socket failed",
               {{"error", server.status().ToString()}});
    (*fs)->Unmount();
    return 1;
  }
  log::Info("dmemu", "ready",
            {{"mount", flags.mount}, {"socket", flags.socket},
             {"run_dir", flags.run_dir}});

  int signo = WaitForStopSignal();
  log::Info("dmemu", "stopping", {{"signal", strsignal(signo)}});
  (*server)->Stop();
  emulator.Shutdown();
  (*fs)->Unmount();
  log::Info("dmemu", "stopped");
  return 0;
}

}  // namespace
}  // namespace sanpool::dmemu

int main(int argc, char** argv) {
  sanpool::dmemu::Flags flags;
  if (!sanpool::dmemu::ParseFlags(argc, argv, &flags)) {
    std::fputs(sanpool::dmemu::kUsage, stderr);
    return 2;
  }
  sanpool::log::Level level;
  if (!sanpool::log::ParseLevel(flags.log_level, &level)) {
    std::fputs(sanpool::dmemu::kUsage, stderr);
    return 2;
  }
  sanpool::log::SetLevel(level);
  return sanpool::dmemu::Run(flags);
}
