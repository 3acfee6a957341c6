#include "tools/rig/rig.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include "base/log.h"
#include "tools/certs/make_certs.h"
#include "tools/rig/processes.h"

namespace sanpool::rig {
namespace {

constexpr std::string_view kLog = "rig";
constexpr size_t kMaxStateBytes = 1 << 20;

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  return DirName(std::string_view(buf, static_cast<size_t>(n)));
}

// The first candidate that is a regular file, or kNotFound.
Result<std::string> FirstExisting(const char* env_var, const std::vector<std::string>& candidates,
                                  std::string_view what) {
  if (const char* from_env = std::getenv(env_var); from_env != nullptr && *from_env != '\0') {
    if (::access(from_env, R_OK) == 0) return std::string(from_env);
    return NotFoundError(std::string(env_var) + "=" + from_env + ": no such file");
  }
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), R_OK) == 0) return c;
  }
  return NotFoundError("cannot find " + std::string(what) + " (set " + env_var + ")");
}

// Lazily detaches a mount (a dead FUSE mount after its daemon was killed).
// Not being a mount point is fine.
Status LazyUnmount(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return ErrnoToStatus(errno, "umount -l " + path);
  }
  return Status::Ok();
}

void Keep(Status& first, Status s) {
  if (!s.ok()) {
    log::Warning(kLog, "down step failed", {{"error", s.ToString()}});
    if (first.ok()) first = std::move(s);
  }
}

}  // namespace

Result<RigBinaries> FindRigBinaries() {
  const std::string self = SelfDir();
  RigBinaries b;
  ASSIGN_OR_RETURN(b.agent, FirstExisting("SANPOOL_AGENT",
                                          {JoinPath(DirName(self), "agent/sanpool-agent"),
                                           JoinPath(self, "sanpool-agent")},
                                          "sanpool-agent"));
  ASSIGN_OR_RETURN(b.dmemu, FirstExisting("SANPOOL_DMEMU",
                                          {JoinPath(self, "dmemu/sanpool-dmemu"),
                                           JoinPath(DirName(self), "tools/dmemu/sanpool-dmemu"),
                                           JoinPath(self, "sanpool-dmemu")},
                                          "sanpool-dmemu"));
  ASSIGN_OR_RETURN(b.shim, FirstExisting("SANPOOL_SANLOCK_SHIM",
                                         {JoinPath(self, "sanlock_shim/libsanlock-shim.so"),
                                          JoinPath(DirName(self),
                                                   "tools/sanlock_shim/libsanlock-shim.so"),
                                          JoinPath(DirName(self),
                                                   "lib/x86_64-linux-gnu/libsanlock-shim.so"),
                                          JoinPath(DirName(self), "lib/libsanlock-shim.so")},
                                         "libsanlock-shim.so"));
  return b;
}

Rig::Rig(Env& env, ProcessRunner& runner, RigBinaries binaries, std::string dir)
    : env_(env), runner_(runner), binaries_(std::move(binaries)), layout_(LayoutFor(dir)) {}

Status Rig::Lock() {
  if (lock_fd_) return Status::Ok();
  // Only `up` creates D; elsewhere a missing D means there is no rig.
  ASSIGN_OR_RETURN(bool exists, env_.Exists(layout_.dir));
  if (!exists) return NotFoundError("no rig at " + layout_.dir + " (run `sanpool rig up`)");
  const std::string path = JoinPath(layout_.dir, "rig.lock");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return ErrnoToStatus(errno, "open " + path);
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return ErrnoToStatus(errno, "flock " + path);
  }
  lock_fd_ = std::move(fd);
  return Status::Ok();
}

Result<RigState> Rig::LoadState() {
  RETURN_IF_ERROR(Lock());
  Result<std::string> text = env_.ReadFile(layout_.state_file, kMaxStateBytes);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return NotFoundError("no rig at " + layout_.dir + " (run `sanpool rig up`)");
    }
    return text.status();
  }
  return DecodeRigState(*text);
}

Status Rig::SaveState(const RigState& state) {
  return env_.WriteFileAtomic(layout_.state_file, EncodeRigState(state), 0644);
}

Status Rig::RemoveTree(const std::string& path) {
  Result<FileStat> st = env_.StatLink(path);
  if (!st.ok()) return st.status().code() == Code::kNotFound ? Status::Ok() : st.status();
  if (st->type == FileType::kDirectory) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, env_.ListDir(path));
    for (const std::string& name : names) RETURN_IF_ERROR(RemoveTree(JoinPath(path, name)));
    return env_.RemoveDir(path);
  }
  return env_.RemoveFile(path);
}

Status Rig::PrepareSan(RigState& state, const UpOptions& options) {
  RETURN_IF_ERROR(env_.CreateDirs(layout_.san_dir, 0755));
  for (int k = 1; k <= options.luns; ++k) {
    const std::string file = layout_.LunFile(k);
    // Sparse: costs nothing until written.
    RETURN_IF_ERROR(env_.WriteFile(file, "", WriteOptions{}));
    RETURN_IF_ERROR(env_.Truncate(file, options.lun_size));
    ProcessSpec spec;
    spec.argv = {binaries_.losetup, "--find", "--show", file};
    spec.timeout = std::chrono::seconds(30);
    ASSIGN_OR_RETURN(ProcessResult result, runner_.Run(spec));
    RETURN_IF_ERROR(CheckExit(result, "losetup --find"));
    std::string device = result.stdout_data.substr(0, result.stdout_data.find('\n'));
    if (!device.starts_with("/dev/loop")) {
      return InternalError("losetup printed '" + device + "', not a loop device");
    }
    state.luns.push_back(device);
    RETURN_IF_ERROR(SaveState(state));
    log::Info(kLog, "lun attached", {{"file", file}, {"device", device}});
  }
  return Status::Ok();
}

// Every loop over a D/san file, whoever recorded it.
Status Rig::DetachLoops() {
  Result<std::vector<std::string>> names = env_.ListDir(layout_.san_dir);
  if (!names.ok()) {
    return names.status().code() == Code::kNotFound ? Status::Ok() : names.status();
  }
  Status first;
  for (const std::string& name : *names) {
    ProcessSpec list;
    list.argv = {binaries_.losetup, "-j", JoinPath(layout_.san_dir, name)};
    list.timeout = std::chrono::seconds(30);
    Result<ProcessResult> listed = runner_.Run(list);
    if (!listed.ok() || !listed->Succeeded()) {
      Keep(first, listed.ok() ? CheckExit(*listed, "losetup -j") : listed.status());
      continue;
    }
    std::istringstream lines(listed->stdout_data);
    for (std::string line; std::getline(lines, line);) {
      std::string device = line.substr(0, line.find(':'));
      if (!device.starts_with("/dev/loop")) continue;
      ProcessSpec detach;
      detach.argv = {binaries_.losetup, "-d", device};
      detach.timeout = std::chrono::seconds(30);
      Result<ProcessResult> done = runner_.Run(detach);
      Keep(first, done.ok() ? CheckExit(*done, "losetup -d " + device) : done.status());
      if (done.ok() && done->Succeeded()) log::Info(kLog, "lun detached", {{"device", device}});
    }
  }
  return first;
}

Status Rig::Up(const UpOptions& options) {
  if (options.hosts < 1 || options.hosts > 250 || options.luns < 1 || options.luns > 64 ||
      options.io_timeout_s < 1) {
    return InvalidArgumentError("rig up: need 1..250 hosts, 1..64 luns, io timeout >= 1 s");
  }
  RETURN_IF_ERROR(env_.CreateDirs(layout_.dir, 0755));
  RETURN_IF_ERROR(Lock());
  ASSIGN_OR_RETURN(bool exists, env_.Exists(layout_.state_file));
  if (exists) {
    return FailedPreconditionError("a rig is recorded at " + layout_.state_file +
                                   "; run `sanpool rig down` first");
  }
  // Leftovers of an earlier rig: never delete through a mount.
  Result<std::vector<std::string>> old_hosts = env_.ListDir(layout_.hosts_dir);
  if (old_hosts.ok()) {
    for (const std::string& h : *old_hosts) {
      RETURN_IF_ERROR(LazyUnmount(JoinPath(JoinPath(layout_.hosts_dir, h), "dmemu")));
    }
  }
  RETURN_IF_ERROR(DetachLoops());
  for (const std::string& dir : {layout_.san_dir, layout_.nas_dir, layout_.hosts_dir}) {
    RETURN_IF_ERROR(RemoveTree(dir));
  }
  RETURN_IF_ERROR(env_.CreateDirs(layout_.nas_dir, 0755));
  RETURN_IF_ERROR(env_.CreateDirs(layout_.hosts_dir, 0755));
  ASSIGN_OR_RETURN(bool have_certs, env_.Exists(JoinPath(layout_.pki_dir, "client.key")));
  if (!have_certs) {
    RETURN_IF_ERROR(tools::MakeCerts(env_, {.dir = layout_.pki_dir}));
  }

  RigState state;
  state.dir = layout_.dir;
  state.io_timeout_s = options.io_timeout_s;
  state.lun_size = options.lun_size;
  state.agent_config = options.agent_config;
  for (int i = 1; i <= options.hosts; ++i) state.hosts.push_back({.index = i});
  RETURN_IF_ERROR(SaveState(state));
  RETURN_IF_ERROR(PrepareSan(state, options));
  // Daemons first on every host, then the agents (which need both).
  for (int i = 1; i <= options.hosts; ++i) {
    HostLayout host = layout_.Host(i);
    RETURN_IF_ERROR(env_.CreateDirs(host.dir, 0755));
    RETURN_IF_ERROR(StartSanlock(state, host));
    RETURN_IF_ERROR(StartDmemu(state, host));
  }
  for (int i = 1; i <= options.hosts; ++i) {
    RETURN_IF_ERROR(StartAgent(state, layout_.Host(i), options.timeout));
  }
  return Status::Ok();
}

Status Rig::StartHost(int index, std::chrono::seconds timeout) {
  ASSIGN_OR_RETURN(RigState state, LoadState());
  return StartHostIn(state, index, timeout);
}

Status Rig::Down() {
  if (Status locked = Lock(); !locked.ok()) {
    return locked.code() == Code::kNotFound ? Status::Ok() : locked;  // nothing to stop
  }
  Status first;
  std::vector<ProcessRecord> agents, dmemus, sanlocks;
  int hosts = 0;
  Result<std::string> text = env_.ReadFile(layout_.state_file, kMaxStateBytes);
  if (text.ok()) {
    Result<RigState> state = DecodeRigState(*text);
    if (state.ok()) {
      hosts = static_cast<int>(state->hosts.size());
      for (const HostRecord& h : state->hosts) {
        agents.push_back(h.agent);
        dmemus.push_back(h.dmemu);
        sanlocks.push_back(h.sanlock);
      }
    } else {
      Keep(first, state.status());
    }
  } else if (text.status().code() != Code::kNotFound) {
    Keep(first, text.status());
  }
  // Whatever rig.json does not know about (a lost or stale record).
  for (const RigProcess& p : FindRigProcesses(layout_.dir)) {
    auto& group = p.program == "sanpool-agent"   ? agents
                  : p.program == "sanpool-dmemu" ? dmemus
                                                 : sanlocks;
    group.push_back(p.record);
  }
  // Agents first (they use the other two), then the emulators (they clean
  // their mappings and unmount on SIGTERM), then sanlock.
  for (auto* group : {&agents, &dmemus, &sanlocks}) {
    for (const ProcessRecord& p : *group) SignalProcess(p, SIGTERM);
    if (!WaitGone(*group, std::chrono::seconds(group == &sanlocks ? 3 : 10))) {
      for (const ProcessRecord& p : *group) SignalProcess(p, SIGKILL);
    }
  }
  std::vector<ProcessRecord> all = agents;
  all.insert(all.end(), dmemus.begin(), dmemus.end());
  all.insert(all.end(), sanlocks.begin(), sanlocks.end());
  // Up to a minute: a daemon with I/O in flight exits when the I/O is done.
  if (!WaitGone(all, std::chrono::seconds(60))) {
    Keep(first, DeadlineExceededError("rig processes still alive after SIGKILL"));
  }
  Result<std::vector<std::string>> host_dirs = env_.ListDir(layout_.hosts_dir);
  if (host_dirs.ok()) {
    for (const std::string& h : *host_dirs) {
      Keep(first, LazyUnmount(JoinPath(JoinPath(layout_.hosts_dir, h), "dmemu")));
    }
  }
  Keep(first, DetachLoops());
  Status removed = env_.RemoveFile(layout_.state_file);
  if (removed.code() != Code::kNotFound) Keep(first, removed);
  log::Info(kLog, "down", {{"dir", layout_.dir}, {"hosts", hosts},
                          {"processes", static_cast<int64_t>(all.size())}});
  return first;
}

}  // namespace sanpool::rig
