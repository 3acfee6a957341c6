// Rig: a whole sanpool cluster on one machine (`sanpool rig`, doc/rig.md).
//
// The SAN is loop devices over sparse files, the NAS a directory; each host
// I is its own sanlock daemon (SANLOCK_RUN_DIR), sanpool-dmemu and
// sanpool-agent, started detached (tools/rig/processes.h) and recorded in
// D/rig.json (tools/rig/rig_state.h). Every Rig method is one rig command;
// they reload rig.json, act, and write it back atomically after each process
// they start, so a command that fails half-way leaves an accurate record
// and `Down()` can always clean up.
//
// Killing: KillHost SIGKILLs the host's sanlock daemon, dm emulator and agent
// (a host crash; nothing is released cleanly, sanlock's other hosts must
// wait for the host's delta lease to expire, lease/timeouts.h) and lazily
// unmounts the emulator's dead FUSE mount; KillAgent SIGKILLs the agent only
// (its daemon releases its leases at once). Without a watchdog the rig
// cannot fence a host that hangs instead of dying.
//
// Thread-safety: one Rig per command; rig commands on the same directory
// serialise on D/rig.lock (flock), so concurrent commands wait for each
// other. Every method blocks (process start-up, RPC, child tools).
#ifndef SANPOOL_TOOLS_RIG_RIG_H_
#define SANPOOL_TOOLS_RIG_RIG_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "agent/rpc_client.h"
#include "base/env.h"
#include "base/process.h"
#include "base/status.h"
#include "base/unique_fd.h"
#include "tools/rig/rig_state.h"

namespace sanpool::rig {

// The programs the rig runs.
struct RigBinaries {
  std::string agent;    // sanpool-agent
  std::string dmemu;    // sanpool-dmemu
  std::string shim;     // libsanlock-shim.so (LD_PRELOAD of sanlock daemons)
  std::string sanlock = "/usr/sbin/sanlock";
  std::string losetup = "/usr/sbin/losetup";
};

// Finds them: the environment (SANPOOL_AGENT, SANPOOL_DMEMU,
// SANPOOL_SANLOCK_SHIM) first, then beside the running `sanpool` in a build
// tree (../agent/sanpool-agent, dmemu/sanpool-dmemu,
// sanlock_shim/libsanlock-shim.so) or an installation (same directory;
// ../lib/<triplet>/ for the shim). kNotFound names the missing one.
Result<RigBinaries> FindRigBinaries();

struct UpOptions {
  int hosts = 3;
  int luns = 2;
  uint64_t lun_size = uint64_t{50} << 30;
  int io_timeout_s = 2;  // lease::kRigIoTimeout
  // For each host to answer Host.ping.
  std::chrono::seconds timeout{60};
  // "key=value" agent config for every host (AgentConfRequest::overrides).
  std::vector<std::string> agent_config;
};

struct ProcessStatus {
  ProcessRecord record;
  bool alive = false;
};

struct HostStatus {
  int index = 0;
  ProcessStatus sanlock, dmemu, agent;
  int port = 0;
  bool ping_ok = false;
  std::string ping_error;
  // What the agent said about pools and the SPM role and about monitored
  // domains; null when it could not say (dead, or no such method).
  boost::json::value spm;
  boost::json::value domains;
};

struct RigStatus {
  RigState state;
  std::vector<HostStatus> hosts;
};

boost::json::value RigStatusToJson(const RigStatus& status);
// The human table `rig status` prints.
std::string FormatRigStatus(const RigStatus& status);

class Rig {
 public:
  // `env` and `runner` must outlive the Rig.
  Rig(Env& env, ProcessRunner& runner, RigBinaries binaries, std::string dir);

  // Builds the rig. kFailedPrecondition if rig.json exists (run Down()
  // first). Wipes D/san, D/nas and D/hosts from an earlier rig. On failure
  // whatever was started stays recorded; call Down().
  Status Up(const UpOptions& options);
  // Starts host `index`'s sanlock daemon, dm emulator and agent, whichever
  // is not running, and waits until the agent answers Host.ping. Waits
  // first (up to 60 s) for an earlier process that is still exiting and
  // for the sanlock run dir's pid file lock to be free.
  // kNotFound for an unknown host or a rig that is not up.
  Status StartHost(int index, std::chrono::seconds timeout);
  // SIGKILLs the three (a crash) and any other rig process naming the
  // host's directory, and waits (up to 60 s; kDeadlineExceeded after) until
  // every thread of them is gone: a daemon with I/O in flight holds its pid
  // file lock and socket until its last thread exits (processes.h).
  Status KillHost(int index);
  // SIGKILLs the agent only.
  Status KillAgent(int index);
  // Pids and liveness of every process, and each live agent's answers.
  Result<RigStatus> GetStatus();
  // Calls METHOD on host `index`'s agent over its Unix socket.
  Result<agent::RpcReply> Call(int index, const std::string& method,
                               const boost::json::value& params,
                               std::chrono::seconds timeout);
  // Stops everything the rig at D runs (from rig.json and, in case it is
  // lost or stale, by scanning /proc), unmounts the emulators' mounts,
  // detaches the SAN's loops and removes rig.json. Idempotent; best effort
  // with every step attempted; the first error is returned at the end.
  Status Down();

  const RigLayout& layout() const { return layout_; }

 private:
  Status Lock();
  Result<RigState> LoadState();
  Status SaveState(const RigState& state);
  Status PrepareSan(RigState& state, const UpOptions& options);
  Status DetachLoops();
  Status RemoveTree(const std::string& path);

  // rig_host.cc
  Status StartSanlock(RigState& state, const HostLayout& host);
  Status StartDmemu(RigState& state, const HostLayout& host);
  Status StartAgent(RigState& state, const HostLayout& host,
                    std::chrono::seconds timeout);
  Status StartHostIn(RigState& state, int index, std::chrono::seconds timeout);
  Result<agent::RpcReply> CallHost(const HostLayout& host,
                                   const std::string& method,
                                   const boost::json::value& params,
                                   std::chrono::seconds timeout);
  HostStatus QueryHost(const HostRecord& record);

  Env& env_;
  ProcessRunner& runner_;
  RigBinaries binaries_;
  RigLayout layout_;
  UniqueFd lock_fd_;
};

}  // namespace sanpool::rig

#endif  // SANPOOL_TOOLS_RIG_RIG_H_
