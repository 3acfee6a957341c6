#include "tools/rig/processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"

extern char** environ;

namespace sanpool::rig {
namespace {

// Reads a /proc file whole; empty when it cannot be read. Plain read(2),
// not an ifstream: a process that exits mid-read makes read() fail with
// ESRCH, which libstdc++'s filebuf throws as std::ios_failure whatever the
// stream's exception mask (`rig down` died of it once in CI).
std::string ReadProcFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return "";
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return "";
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// State letter and start time from /proc/<pid>/stat; the command name may
// hold spaces and parentheses, so fields are counted after the last ')'.
bool ReadStat(pid_t pid, char* state, uint64_t* start_time) {
  std::string stat = ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  // Field 3 is the state; field 22 the start time.
  for (int n = 3; n <= 22 && (fields >> field); ++n) {
    if (n == 3) *state = field.empty() ? '?' : field[0];
    if (n == 22) {
      *start_time = std::strtoull(field.c_str(), nullptr, 10);
      return true;
    }
  }
  return false;
}

// Whether /proc/<pid>/task lists a thread other than the main one.
bool OtherThreadsLeft(pid_t pid) {
  DIR* tasks = ::opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  if (tasks == nullptr) return false;
  bool found = false;
  const std::string self = std::to_string(pid);
  while (dirent* entry = ::readdir(tasks)) {
    std::string_view name(entry->d_name);
    if (name != "." && name != ".." && name != self) found = true;
  }
  ::closedir(tasks);
  return found;
}

bool NamesDir(std::string_view text, const std::string& prefix) {
  return text.find(prefix) != std::string_view::npos;
}

}  // namespace

Result<ProcessRecord> SpawnDetached(const SpawnSpec& spec) {
  if (spec.argv.empty()) return InvalidArgumentError("spawn: empty argv");
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool drop = false;
    for (const std::string& u : spec.env_unset) drop |= name == u;
    for (const auto& [n, v] : spec.env_set) drop |= name == n;
    if (!drop) env.emplace_back(entry);
  }
  for (const auto& [n, v] : spec.env_set) env.push_back(n + "=" + v);
  std::vector<char*> argv_ptrs;
  std::vector<std::string> argv = spec.argv;
  for (std::string& a : argv) argv_ptrs.push_back(a.data());
  argv_ptrs.push_back(nullptr);
  std::vector<char*> env_ptrs;
  for (std::string& e : env) env_ptrs.push_back(e.data());
  env_ptrs.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, spec.log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // A new session; default signal handling and an empty mask in the child.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  pid_t pid = 0;
  int err = posix_spawn(&pid, argv_ptrs[0], &actions, &attr, argv_ptrs.data(), env_ptrs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) return ErrnoToStatus(err, "spawn " + spec.argv[0]);
  ProcessRecord record{.pid = pid};
  Result<uint64_t> start = ProcessStartTime(pid);
  // Gone already: keep pid with start 0; IsAlive() reports it dead.
  if (start.ok()) record.start_time = *start;
  return record;
}

Result<uint64_t> ProcessStartTime(pid_t pid) {
  char state = '?';
  uint64_t start = 0;
  if (pid <= 0 || !ReadStat(pid, &state, &start)) {
    return NotFoundError("no process " + std::to_string(pid));
  }
  return start;
}

ProcessState GetProcessState(const ProcessRecord& process) {
  if (process.pid <= 0 || process.start_time == 0) return ProcessState::kGone;
  int wstatus = 0;
  ::waitpid(process.pid, &wstatus, WNOHANG);  // ECHILD unless ours
  char state = '?';
  uint64_t start = 0;
  if (!ReadStat(process.pid, &state, &start) || start != process.start_time) {
    return ProcessState::kGone;
  }
  if (state != 'Z' && state != 'X') return ProcessState::kRunning;
  // A zombie main thread: the kernel keeps the thread group's leader until
  // every other thread has exited, and only then closes the files.
  return OtherThreadsLeft(process.pid) ? ProcessState::kExiting : ProcessState::kGone;
}

bool IsAlive(const ProcessRecord& process) {
  return GetProcessState(process) != ProcessState::kGone;
}

void SignalProcess(const ProcessRecord& process, int signo) {
  if (!IsAlive(process)) return;
  // The daemons are session (and group) leaders: the group holds their
  // helpers and children.
  if (::getpgid(process.pid) == process.pid) ::kill(-process.pid, signo);
  ::kill(process.pid, signo);
}

bool WaitGone(const std::vector<ProcessRecord>& processes, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool any = false;
    for (const ProcessRecord& p : processes) any |= IsAlive(p);
    if (!any) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<pid_t> UnixSocketListenerPid(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("socket path too long: " + path);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoToStatus(errno, "socket");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return UnavailableError("nothing accepts on " + path + ": " + std::strerror(errno));
  }
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return ErrnoToStatus(errno, "SO_PEERCRED " + path);
  }
  return cred.pid;
}

Result<pid_t> FcntlLockHolder(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoToStatus(errno, "open " + path);
  struct flock lock {};
  lock.l_type = F_WRLCK;  // conflicts with any lock
  lock.l_whence = SEEK_SET;
  lock.l_start = 0;
  lock.l_len = 0;  // the whole file
  if (::fcntl(fd.get(), F_GETLK, &lock) != 0) return ErrnoToStatus(errno, "F_GETLK " + path);
  return lock.l_type == F_UNLCK ? 0 : lock.l_pid;
}

std::vector<RigProcess> FindRigProcesses(const std::string& dir) {
  std::vector<RigProcess> found;
  const std::string prefix = dir + "/";
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  const pid_t self = ::getpid();
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == self) continue;
    const std::string base = "/proc/" + std::string(entry->d_name);
    char exe[4096];
    ssize_t n = ::readlink((base + "/exe").c_str(), exe, sizeof(exe) - 1);
    if (n <= 0) continue;
    std::string_view exe_path(exe, static_cast<size_t>(n));
    std::string_view name = exe_path.substr(exe_path.rfind('/') + 1);
    if (name != "sanlock" && name != "sanpool-agent" && name != "sanpool-dmemu") continue;
    std::string cmdline = ReadProcFile(base + "/cmdline");
    std::string environ_text = ReadProcFile(base + "/environ");
    bool ours = NamesDir(cmdline, prefix) ||
                NamesDir(environ_text, std::string("SANLOCK_RUN_DIR=") + prefix);
    if (!ours) continue;
    Result<uint64_t> start = ProcessStartTime(static_cast<pid_t>(pid));
    if (start.ok()) {
      found.push_back({std::string(name), {static_cast<pid_t>(pid), *start}});
    }
  }
  ::closedir(proc);
  return found;
}

}  // namespace sanpool::rig
