// The rig's layout on disk and its record of what runs (D/rig.json).
//
// `sanpool rig up` builds a cluster on one machine under a directory D
// (doc/rig.md):
//
//   D/rig.json                 RigState, written atomically after each change
//   D/pki/                     ca, host and client certificates (make-certs)
//   D/san/lun1 .. lunK         sparse files behind the SAN's loop devices
//   D/nas/                     the shared file storage
//   D/hosts/I/                 host I (1..N):
//     sanlock/                 SANLOCK_RUN_DIR of its sanlock daemon
//     sanlock.log              the daemon's output
//     dmemu/                   the dm emulator's FUSE mount
//     dmemu-run/               the dm emulator's run dir (device links)
//     dmemu.sock, dmemu.log
//     agent.conf, agent.sock, agent.port, agent.log
//     data-center/, storage/   storage.repository, storage.run_dir
//     state                    agent.state_file (when the agent has the key)
//
// RigState is plain data; EncodeRigState/DecodeRigState convert it to and
// from JSON (version 1). A process is identified by pid and its start time
// (field 22 of /proc/<pid>/stat), so a recycled pid is never taken for it.
//
// Thread-safety: plain values and pure functions.
#ifndef SANPOOL_TOOLS_RIG_RIG_STATE_H_
#define SANPOOL_TOOLS_RIG_RIG_STATE_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace sanpool::rig {

inline constexpr char kDefaultRigDir[] = "/var/tmp/sanpool-rig";

// Paths of one host's files.
struct HostLayout {
  int index = 0;  // 1-based; also the host's sanlock host id
  std::string dir;
  std::string sanlock_run_dir;
  std::string sanlock_log;
  std::string dmemu_mount;
  std::string dmemu_run_dir;
  std::string dmemu_socket;
  std::string dmemu_log;
  std::string agent_conf;
  std::string agent_socket;
  std::string agent_port_file;
  std::string agent_log;
  std::string repository;
  std::string storage_run_dir;
  std::string state_file;
};

// Paths of the whole rig.
struct RigLayout {
  std::string dir;
  std::string state_file;  // rig.json
  std::string pki_dir;
  std::string san_dir;
  std::string nas_dir;
  std::string hosts_dir;

  std::string LunFile(int k) const;  // k is 1-based
  HostLayout Host(int index) const;
};

RigLayout LayoutFor(const std::string& dir);

// A process the rig started: pid plus start time (clock ticks after boot).
struct ProcessRecord {
  pid_t pid = 0;  // 0: not started
  uint64_t start_time = 0;
};

struct HostRecord {
  int index = 0;
  ProcessRecord sanlock;
  ProcessRecord dmemu;
  ProcessRecord agent;
  int port = 0;  // the agent's TLS port; 0 while unknown
};

struct RigState {
  std::string dir;
  int io_timeout_s = 0;
  uint64_t lun_size = 0;            // bytes
  std::vector<std::string> luns;    // loop devices, in LUN order
  std::vector<HostRecord> hosts;    // index i at hosts[i - 1]
  // Agent config keys the rig wanted to set but the agent does not declare.
  std::vector<std::string> skipped_config_keys;
  // "key=value" agent config of `rig up --agent-config`, written for every
  // host on top of the rig's own keys (also at start-host).
  std::vector<std::string> agent_config;

  HostRecord* FindHost(int index);
};

std::string EncodeRigState(const RigState& state);
// kInvalidArgument on malformed JSON, a wrong version or missing fields.
Result<RigState> DecodeRigState(std::string_view text);

// Parses "50G", "512M", "1T", "4096" (binary units). kInvalidArgument for
// anything else or zero.
Result<uint64_t> ParseByteSize(std::string_view text);

}  // namespace sanpool::rig

#endif  // SANPOOL_TOOLS_RIG_RIG_STATE_H_
