// The rig's daemons: started detached, found, signalled and waited for.
//
// The rig command starts a host's daemons and exits; they must outlive it.
// SpawnDetached runs a program with posix_spawn (argv, never a shell) in a
// new session (POSIX_SPAWN_SETSID: own process group, no controlling
// terminal), stdin from /dev/null, stdout and stderr appended to a log file,
// and no inherited descriptors beyond those three. Later rig commands find
// the process again through its ProcessRecord (pid + start time, so a
// recycled pid never matches) and signal its whole process group (sanlock's
// helper process, children of the agent).
//
// Thread-safety: functions of their arguments; the process table is shared
// with everything else on the machine, so answers are snapshots.
#ifndef SANPOOL_TOOLS_RIG_PROCESSES_H_
#define SANPOOL_TOOLS_RIG_PROCESSES_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tools/rig/rig_state.h"

namespace sanpool::rig {

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0]: an absolute path
  // The rig command's environment minus env_unset, plus env_set.
  std::vector<std::pair<std::string, std::string>> env_set;
  std::vector<std::string> env_unset;
  std::string log_path;  // created if missing, appended to
};

// Starts the process and returns its record. Errors: kInvalidArgument (empty
// argv), the errno of posix_spawn (e.g. kNotFound for a missing binary).
// Does not wait for the program to get ready.
Result<ProcessRecord> SpawnDetached(const SpawnSpec& spec);

// The start time of `pid` (field 22 of /proc/<pid>/stat). kNotFound if no
// such process.
Result<uint64_t> ProcessStartTime(pid_t pid);

enum class ProcessState {
  kGone,     // no such process (or another one with a recycled pid), or a
             // zombie with nothing left of it
  kRunning,  // its main thread runs
  // Its main thread has exited (a zombie in /proc/<pid>/stat) but other
  // threads have not yet: a SIGKILLed multi-threaded daemon whose thread
  // still waits in the kernel (a sanlock daemon's in-flight direct I/O
  // under a disk stall). Until the last thread is gone the process keeps
  // its files open, so its fcntl locks and listening sockets live on.
  kExiting,
};

// The recorded process's state; reaps it first if it is a dead child of the
// caller.
ProcessState GetProcessState(const ProcessRecord& process);

// True while the recorded process exists and is the same process (start
// time): kRunning or kExiting.
bool IsAlive(const ProcessRecord& process);

// Sends `signo` to the process group and the process, if IsAlive().
void SignalProcess(const ProcessRecord& process, int signo);

// Waits until none of `processes` IsAlive() (kExiting counts: a process is
// gone when its last thread is), polling every 20 ms. Returns whether they
// all went within `timeout`.
bool WaitGone(const std::vector<ProcessRecord>& processes,
              std::chrono::milliseconds timeout);

// The pid of the process that listens on the Unix stream socket `path`
// (SO_PEERCRED of a connection to it: who called listen()). Tells a new
// daemon from an old one still holding the socket. kUnavailable when
// nothing accepts; errno-derived errors otherwise. One local connect().
Result<pid_t> UnixSocketListenerPid(const std::string& path);

// The pid of a process holding a POSIX (fcntl) lock on `path` (a daemon's
// pid file), or 0 when no one does; a lock of the caller itself does not
// count. kNotFound when `path` does not exist. Does not block.
Result<pid_t> FcntlLockHolder(const std::string& path);

struct RigProcess {
  std::string program;  // "sanlock", "sanpool-agent" or "sanpool-dmemu"
  ProcessRecord record;
};

// Processes running one of the rig's programs (an executable named
// `sanlock`, `sanpool-agent` or `sanpool-dmemu`) whose command line or
// SANLOCK_RUN_DIR names a path under `dir`: what a rig at `dir` may have
// left behind when rig.json is lost or stale. Never the caller itself.
std::vector<RigProcess> FindRigProcesses(const std::string& dir);

}  // namespace sanpool::rig

#endif  // SANPOOL_TOOLS_RIG_PROCESSES_H_
