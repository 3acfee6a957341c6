// SanlockDaemon: starts and owns one `sanlock daemon` process, one "host".
//
// For the system tests, the benches and the rig, where one machine plays
// several hosts: each daemon gets its own run directory (SANLOCK_RUN_DIR:
// socket and pid file) and, where the environment forbids raising
// RLIMIT_MEMLOCK, the LD_PRELOAD shim tools/sanlock_shim. The command is
//
//   SANLOCK_RUN_DIR=<run_dir> LD_PRELOAD=<shim>
//   sanlock daemon -D -w 0 -l 0 -h 0 -U root -G root -L -1 -S -1 [-e <host>]
//
// (foreground, no watchdog, no mlock, no RT priority; logging only to its
// stderr, which goes to `log_path`, not to /var/log/sanlock.log or syslog).
// Without a watchdog nothing resets a host that hangs: see lease/timeouts.h.
//
// Clients reach this daemon by running with SANLOCK_RUN_DIR = run_dir()
// (lease/sanlock_lib.h).
//
// Lifetime: the daemon runs in its own process group with PR_SET_PDEATHSIG
// SIGKILL, so it dies with the thread that started it even when that process
// is killed; Kill() and the destructor SIGKILL the group (the daemon and its
// helper) and reap the daemon. Killing a daemon is how tests kill a host.
//
// Thread-safety: not thread-safe; one owner.
#ifndef SANPOOL_LEASE_SANLOCK_DAEMON_H_
#define SANPOOL_LEASE_SANLOCK_DAEMON_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sanpool::lease {

struct SanlockDaemonOptions {
  std::string sanlock_binary = "/usr/sbin/sanlock";
  // Created (one level) if missing. Must be short: the socket path inside it
  // must fit sockaddr_un (108 bytes).
  std::string run_dir;
  // Path of libsanlock-shim.so for LD_PRELOAD; empty for none.
  std::string shim_path;
  // Name in the delta leases (-e); empty for sanlock's default.
  std::string host_name;
  // The daemon's stderr; empty for <run_dir>/sanlock.log.
  std::string log_path;
  // How long Start() waits for the daemon's socket to accept connections.
  std::chrono::milliseconds start_timeout{10'000};
};

// The daemon's command line and the variables Start() sets in its
// environment (SANLOCK_RUN_DIR, LD_PRELOAD when shim_path is set), for
// callers that run the daemon detached instead of owning it (the rig,
// tools/rig/). The child must not inherit other values of those variables.
struct SanlockDaemonCommand {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};
SanlockDaemonCommand BuildSanlockDaemonCommand(
    const SanlockDaemonOptions& options);

// Whether a daemon accepts connections on <run_dir>/sanlock.sock. Does not
// block beyond one local connect().
bool SanlockDaemonListening(const std::string& run_dir);

class SanlockDaemon {
 public:
  // Starts the daemon and waits until its socket accepts connections.
  // Errors: kInvalidArgument (empty or too long run_dir), the errno of
  // mkdir/open/fork, kUnavailable when the daemon exits or does not listen
  // within start_timeout (message ends with the tail of its log).
  // Blocks up to start_timeout.
  static Result<std::unique_ptr<SanlockDaemon>> Start(
      const SanlockDaemonOptions& options);

  ~SanlockDaemon();
  SanlockDaemon(const SanlockDaemon&) = delete;
  SanlockDaemon& operator=(const SanlockDaemon&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& run_dir() const { return options_.run_dir; }
  bool running() const { return pid_ > 0; }

  // SIGKILLs the daemon's process group and reaps the daemon. Idempotent.
  void Kill();
  // The last `bytes` of the daemon's log (for failure messages).
  std::string LogTail(size_t bytes) const;

 private:
  explicit SanlockDaemon(SanlockDaemonOptions options)
      : options_(std::move(options)) {}

  SanlockDaemonOptions options_;
  pid_t pid_ = -1;
};

}  // namespace sanpool::lease

#endif  // SANPOOL_LEASE_SANLOCK_DAEMON_H_
