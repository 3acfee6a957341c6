// The agent's configuration: the schema of /etc/sanpool/agent.conf (sections
// [rpc], [storage], [monitor], [spm], [sanlock], [agent], [mailbox], [dm], [lvm] and [log]) on top of base/config.h, and its translation into the
// options of the components main.cc builds.
//
//   Config config(AgentConfigSchema());
//   RETURN_IF_ERROR(config.Load(env, path, MissingFile::kUseDefaults));
//   ASSIGN_OR_RETURN(AgentConfig agent, AgentConfigFrom(config));
//
// `sanpool-agent --dump-config-doc` prints AgentConfigSchema().RenderMarkdown()
// (doc/config.md is generated from it).
//
// Thread-safety: plain functions and values.
#ifndef SANPOOL_AGENT_AGENT_CONFIG_H_
#define SANPOOL_AGENT_AGENT_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agent/server.h"
#include "base/config.h"
#include "base/log.h"
#include "base/status.h"

namespace sanpool::agent {

inline constexpr char kDefaultConfigPath[] = "/etc/sanpool/agent.conf";

// Every key the agent reads, with defaults and descriptions.
ConfigSchema AgentConfigSchema();

// Where storage lives on this host (section [storage]).
struct StorageOptions {
  std::string repository;  // mounts under <repository>/mnt/
  std::string run_dir;     // prepared images
};

// Domain monitoring (section [monitor]).
struct MonitorConfig {
  std::chrono::milliseconds interval{10000};  // between checks, >= 1 s
};

// Pools, the SPM role and sanlock (sections [spm], [sanlock], [agent]).
struct PoolConfig {
  bool spm_auto = true;                          // spm.auto
  std::chrono::milliseconds backoff_max{1000};   // spm.backoff_max_ms
  int io_timeout_s = 10;                         // sanlock.io_timeout_s
  std::string state_file;                        // agent.state_file
};

// The storage mailbox and thin-volume extends (section [mailbox]; defaults
// are the mailbox engines' own, mailbox/host_mailbox.h, spm_mailbox.h).
struct MailboxConfig {
  std::chrono::milliseconds event_poll{5};       // mailbox.event_poll_ms
  std::chrono::milliseconds host_poll{5};        // mailbox.host_poll_ms
  std::chrono::milliseconds scan_interval{1000}; // mailbox.scan_interval_ms
  std::chrono::milliseconds resend_timeout{5000};  // mailbox.resend_timeout_s
  int spm_concurrency = 8;                       // mailbox.spm_concurrency
  std::chrono::milliseconds extend_timeout{60000};  // mailbox.extend_timeout_s
  bool lvm_shell_batch = false;                  // mailbox.lvm_shell_batch
};

// Block domains (sections [dm], [lvm]).
enum class DmBackend { kKernel, kUser };
struct BlockConfig {
  DmBackend dm_backend = DmBackend::kKernel;     // dm.backend
  std::string dmemu_socket;                      // dm.dmemu_socket
  std::string dmemu_run_dir;                     // dm.dmemu_run_dir
  std::vector<std::string> devices;              // lvm.devices
  int max_lvm_processes = 10;                    // lvm.max_processes
  // lvm.system_dir when lvm.use_aio is false; empty: lvm's own config.
  std::string lvm_system_dir;
};

// "a, b" -> {"a", "b"}: lvm.devices. kInvalidArgument for an entry that is
// not an absolute path or holds a glob character.
Result<std::vector<std::string>> ParseDeviceList(std::string_view text);

struct AgentConfig {
  ServerOptions server;
  int worker_threads = 4;
  size_t worker_queue = 256;
  size_t max_batch = 100;
  log::Level log_level = log::Level::kInfo;
  StorageOptions storage;
  MonitorConfig monitor;
  PoolConfig pool;
  MailboxConfig mailbox;
  BlockConfig block;
};

// Reads the values and checks rules that span keys. Errors (kInvalidArgument,
// naming the keys): rpc.tls = false with a non-loopback rpc.host; neither a
// TCP listener (rpc.host) nor rpc.unix_socket configured.
// REQUIRES: `config` was built from AgentConfigSchema().
Result<AgentConfig> AgentConfigFrom(const Config& config);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_AGENT_CONFIG_H_
