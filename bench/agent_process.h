// AgentProcess: a sanpool-agent child for benchmarks.
//
// Start() creates a temporary directory, writes a test PKI into it
// (tools/certs/make_certs.h), spawns the agent binary (posix_spawn, argv only, no
// shell; output to <dir>/agent.log) listening with mutual TLS on 127.0.0.1
// port 0 and on a Unix socket in the directory, and waits for its
// --port-file. The destructor sends SIGTERM, waits up to 10 s, then SIGKILL,
// reaps the child and removes the directory.
//
// Thread-safety: one thread.
#ifndef SANPOOL_BENCH_AGENT_PROCESS_H_
#define SANPOOL_BENCH_AGENT_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/rpc_client.h"
#include "base/env.h"
#include "base/status.h"

namespace sanpool::bench {

struct AgentStartOptions {
  std::string binary;                   // path of sanpool-agent
  std::vector<std::string> extra_sets;  // more "--set section.key=value" values
};

class AgentProcess {
 public:
  // Errors: the binary cannot be spawned, it exits early or writes no port
  // file within 15 s (kUnavailable, with the tail of its log), file errors.
  static Result<std::unique_ptr<AgentProcess>> Start(Env& env, const AgentStartOptions& options);
  ~AgentProcess();

  pid_t pid() const { return pid_; }
  // https://127.0.0.1:<port> and the client certificate to use with it.
  const agent::Endpoint& endpoint() const { return endpoint_; }
  const agent::TlsFiles& client_tls() const { return tls_; }
  // SIGTERM and wait; returns the exit status (or -signal). Idempotent.
  int Stop();

 private:
  AgentProcess(Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  std::string LogTail() const;

  Env& env_;
  std::string dir_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  agent::Endpoint endpoint_;
  agent::TlsFiles tls_;
};

// VmRSS and VmHWM of a process from /proc/<pid>/status, in bytes.
struct ProcessMemory {
  uint64_t rss_bytes = 0;
  uint64_t hwm_bytes = 0;
};
Result<ProcessMemory> ReadProcessMemory(Env& env, pid_t pid);

}  // namespace sanpool::bench

#endif  // SANPOOL_BENCH_AGENT_PROCESS_H_
