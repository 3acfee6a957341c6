// Rig: starting and killing one host's processes.
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include "agent/agent_config.h"
#include "base/log.h"
#include "lease/sanlock_daemon.h"
#include "tools/rig/agent_conf.h"
#include "tools/rig/processes.h"
#include "tools/rig/rig.h"

namespace sanpool::rig {
namespace {

constexpr std::string_view kLog = "rig";
constexpr auto kPoll = std::chrono::milliseconds(50);
constexpr auto kDaemonStartTimeout = std::chrono::seconds(15);
// How long a SIGKILLed process may take to exit: its threads finish the
// I/O they are in first (a slow disk), then it closes its files.
constexpr auto kOldProcessExitTimeout = std::chrono::seconds(60);
// In SANLOCK_RUN_DIR (sanlock's SANLK_LOCKFILE_NAME, SANLK_SOCKET_NAME).
constexpr char kSanlockPidFile[] = "sanlock.pid";
constexpr char kSanlockSocket[] = "sanlock.sock";

std::string LogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > 2048 ? size - 2048 : 0;
  in.seekg(start);
  std::string out(static_cast<size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return out;
}

bool UnixSocketAccepts(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) return false;
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

// Polls `ready` until it holds, the process dies or the timeout passes.
Status WaitReady(const ProcessRecord& process, std::string_view what, const std::string& log_path,
                 std::chrono::milliseconds timeout, const std::function<bool()>& ready) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (ready()) return Status::Ok();
    if (!IsAlive(process)) {
      return UnavailableError(std::string(what) + " exited at start; " + log_path + ":\n" +
                              LogTail(log_path));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return DeadlineExceededError(std::string(what) + " not ready in time; " + log_path +
                                   ":\n" + LogTail(log_path));
    }
    std::this_thread::sleep_for(kPoll);
  }
}

// Waits (bounded) until a process of an earlier start that is exiting is
// gone; a running or gone one returns at once.
Status WaitExited(const ProcessRecord& process, std::string_view what,
                  const std::string& log_path) {
  if (GetProcessState(process) != ProcessState::kExiting) return Status::Ok();
  if (WaitGone({process}, kOldProcessExitTimeout)) return Status::Ok();
  return DeadlineExceededError("an earlier " + std::string(what) + " (pid " +
                               std::to_string(process.pid) + ") is still exiting after " +
                               std::to_string(kOldProcessExitTimeout.count()) + " s; " +
                               log_path + ":\n" + LogTail(log_path));
}

}  // namespace

Status Rig::StartSanlock(RigState& state, const HostLayout& host) {
  HostRecord& record = *state.FindHost(host.index);
  RETURN_IF_ERROR(WaitExited(record.sanlock, "sanlock daemon", host.sanlock_log));
  if (IsAlive(record.sanlock)) return Status::Ok();
  RETURN_IF_ERROR(env_.CreateDirs(host.sanlock_run_dir, 0755));
  // Whoever still holds the pid file's lock (an earlier daemon of this run
  // dir that rig.json does not name) would make the new daemon exit at start.
  const std::string pid_file = JoinPath(host.sanlock_run_dir, kSanlockPidFile);
  const auto lock_deadline = std::chrono::steady_clock::now() + kOldProcessExitTimeout;
  while (true) {
    Result<pid_t> holder = FcntlLockHolder(pid_file);
    if (!holder.ok() && holder.status().code() != Code::kNotFound) return holder.status();
    if (!holder.ok() || *holder == 0) break;
    if (std::chrono::steady_clock::now() >= lock_deadline) {
      return FailedPreconditionError("process " + std::to_string(*holder) + " still holds " +
                                     pid_file + "; is an earlier sanlock daemon of host " +
                                     std::to_string(host.index) + " stuck?");
    }
    std::this_thread::sleep_for(kPoll);
  }
  lease::SanlockDaemonOptions options;
  options.sanlock_binary = binaries_.sanlock;
  options.run_dir = host.sanlock_run_dir;
  options.shim_path = binaries_.shim;
  options.host_name = "rig-host-" + std::to_string(host.index);
  lease::SanlockDaemonCommand command = lease::BuildSanlockDaemonCommand(options);
  ASSIGN_OR_RETURN(record.sanlock, SpawnDetached({.argv = command.argv,
                                                  .env_set = command.env,
                                                  .log_path = host.sanlock_log}));
  RETURN_IF_ERROR(SaveState(state));
  // Ready when the new daemon listens: a socket that accepts may still be
  // an exiting daemon's (ProcessState::kExiting).
  const std::string socket = JoinPath(host.sanlock_run_dir, kSanlockSocket);
  RETURN_IF_ERROR(WaitReady(record.sanlock, "sanlock daemon", host.sanlock_log,
                            kDaemonStartTimeout, [&] {
                              Result<pid_t> listener = UnixSocketListenerPid(socket);
                              return listener.ok() && *listener == record.sanlock.pid;
                            }));
  log::Info(kLog, "sanlock started", {{"host", host.index}, {"pid", record.sanlock.pid}});
  return Status::Ok();
}

Status Rig::StartDmemu(RigState& state, const HostLayout& host) {
  HostRecord& record = *state.FindHost(host.index);
  RETURN_IF_ERROR(WaitExited(record.dmemu, "sanpool-dmemu", host.dmemu_log));
  if (IsAlive(record.dmemu)) return Status::Ok();
  // A killed emulator leaves a dead FUSE mount ("Transport endpoint is not
  // connected") that a new one cannot mount over.
  if (::umount2(host.dmemu_mount.c_str(), MNT_DETACH) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return ErrnoToStatus(errno, "umount -l " + host.dmemu_mount);
  }
  RETURN_IF_ERROR(env_.CreateDirs(host.dmemu_mount, 0755));
  RETURN_IF_ERROR(env_.CreateDirs(host.dmemu_run_dir, 0755));
  ASSIGN_OR_RETURN(record.dmemu,
                   SpawnDetached({.argv = {binaries_.dmemu, "--mount", host.dmemu_mount,
                                           "--socket", host.dmemu_socket, "--run-dir",
                                           host.dmemu_run_dir},
                                  .log_path = host.dmemu_log}));
  RETURN_IF_ERROR(SaveState(state));
  RETURN_IF_ERROR(WaitReady(record.dmemu, "sanpool-dmemu", host.dmemu_log, kDaemonStartTimeout,
                            [&] { return UnixSocketAccepts(host.dmemu_socket); }));
  log::Info(kLog, "dmemu started", {{"host", host.index}, {"pid", record.dmemu.pid}});
  return Status::Ok();
}

Status Rig::StartAgent(RigState& state, const HostLayout& host, std::chrono::seconds timeout) {
  HostRecord& record = *state.FindHost(host.index);
  RETURN_IF_ERROR(WaitExited(record.agent, "sanpool-agent", host.agent_log));
  if (IsAlive(record.agent)) return Status::Ok();
  RETURN_IF_ERROR(env_.CreateDirs(host.repository, 0755));
  RETURN_IF_ERROR(env_.CreateDirs(host.storage_run_dir, 0755));
  ASSIGN_OR_RETURN(AgentConf conf,
                   RenderAgentConf({.rig = layout_, .host = host,
                                    .io_timeout_s = state.io_timeout_s,
                                    .luns = state.luns,
                                    .overrides = state.agent_config},
                                   agent::AgentConfigSchema()));
  state.skipped_config_keys = conf.skipped;
  RETURN_IF_ERROR(env_.WriteFileAtomic(host.agent_conf, conf.text, 0644));
  Status removed = env_.RemoveFile(host.agent_port_file);
  if (!removed.ok() && removed.code() != Code::kNotFound) return removed;
  record.port = 0;
  ASSIGN_OR_RETURN(record.agent,
                   SpawnDetached({.argv = {binaries_.agent, "--config", host.agent_conf,
                                           "--port-file", host.agent_port_file},
                                  .env_set = {{"SANLOCK_RUN_DIR", host.sanlock_run_dir}},
                                  .env_unset = {"LD_PRELOAD"},
                                  .log_path = host.agent_log}));
  RETURN_IF_ERROR(SaveState(state));
  RETURN_IF_ERROR(WaitReady(record.agent, "sanpool-agent", host.agent_log, timeout, [&] {
    Result<std::string> text = env_.ReadFile(host.agent_port_file, 64);
    if (!text.ok()) return false;
    record.port = std::atoi(text->c_str());
    return record.port > 0;
  }));
  RETURN_IF_ERROR(SaveState(state));
  // Ready when it answers over mutual TLS, the way every client reaches it.
  agent::ClientOptions options;
  options.endpoint = {.kind = agent::Endpoint::Kind::kTls,
                      .host = "127.0.0.1",
                      .port = static_cast<uint16_t>(record.port)};
  options.tls = {.ca_file = JoinPath(layout_.pki_dir, "ca.pem"),
                 .cert_file = JoinPath(layout_.pki_dir, "client.pem"),
                 .key_file = JoinPath(layout_.pki_dir, "client.key")};
  options.connect_timeout = std::chrono::seconds(5);
  options.request_timeout = std::chrono::seconds(10);
  RETURN_IF_ERROR(WaitReady(record.agent, "sanpool-agent", host.agent_log, timeout, [&] {
    Result<std::unique_ptr<agent::RpcClient>> client = agent::RpcClient::Connect(options);
    if (!client.ok()) return false;
    Result<agent::RpcReply> reply = (*client)->Call("Host.ping", nullptr);
    return reply.ok() && reply->ok();
  }));
  log::Info(kLog, "agent started",
            {{"host", host.index}, {"pid", record.agent.pid}, {"port", record.port}});
  return Status::Ok();
}

Status Rig::StartHostIn(RigState& state, int index, std::chrono::seconds timeout) {
  if (state.FindHost(index) == nullptr) {
    return NotFoundError("no host " + std::to_string(index) + " in the rig at " + layout_.dir);
  }
  HostLayout host = layout_.Host(index);
  RETURN_IF_ERROR(env_.CreateDirs(host.dir, 0755));
  RETURN_IF_ERROR(StartSanlock(state, host));
  RETURN_IF_ERROR(StartDmemu(state, host));
  return StartAgent(state, host, timeout);
}

Status Rig::KillHost(int index) {
  ASSIGN_OR_RETURN(RigState state, LoadState());
  HostRecord* record = state.FindHost(index);
  if (record == nullptr) return NotFoundError("no host " + std::to_string(index));
  HostLayout host = layout_.Host(index);
  // As close together as three signals get: a crash. Then whatever else of
  // this host runs (a sanlock helper, a process rig.json lost).
  std::vector<ProcessRecord> all = {record->sanlock, record->dmemu, record->agent};
  for (const ProcessRecord& p : all) SignalProcess(p, SIGKILL);
  for (const RigProcess& p : FindRigProcesses(host.dir)) {
    SignalProcess(p.record, SIGKILL);
    all.push_back(p.record);
  }
  // Gone means every thread gone (WaitGone): a daemon SIGKILLed with direct
  // I/O in flight exits only when that I/O completes, and keeps its pid
  // file lock and socket until then.
  if (!WaitGone(all, kOldProcessExitTimeout)) {
    return DeadlineExceededError("host " + std::to_string(index) + " survived SIGKILL for " +
                                 std::to_string(kOldProcessExitTimeout.count()) + " s");
  }
  if (::umount2(host.dmemu_mount.c_str(), MNT_DETACH) != 0 && errno != EINVAL &&
      errno != ENOENT) {
    return ErrnoToStatus(errno, "umount -l " + host.dmemu_mount);
  }
  log::Info(kLog, "host killed", {{"host", index}});
  return Status::Ok();
}

Status Rig::KillAgent(int index) {
  ASSIGN_OR_RETURN(RigState state, LoadState());
  HostRecord* record = state.FindHost(index);
  if (record == nullptr) return NotFoundError("no host " + std::to_string(index));
  SignalProcess(record->agent, SIGKILL);
  if (!WaitGone({record->agent}, kOldProcessExitTimeout)) {
    return DeadlineExceededError("agent " + std::to_string(index) + " survived SIGKILL");
  }
  log::Info(kLog, "agent killed", {{"host", index}});
  return Status::Ok();
}

}  // namespace sanpool::rig
