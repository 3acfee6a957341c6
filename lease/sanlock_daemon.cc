#include "lease/sanlock_daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "base/log.h"
#include "base/unique_fd.h"

extern char** environ;

namespace sanpool::lease {
namespace {

constexpr std::string_view kLog = "sanlock-daemon";

std::string SocketPath(const std::string& run_dir) {
  return run_dir + "/sanlock.sock";
}

bool Accepts(const std::string& socket_path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr),
                   sizeof(addr)) == 0;
}

std::vector<char*> Pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

SanlockDaemonCommand BuildSanlockDaemonCommand(
    const SanlockDaemonOptions& options) {
  SanlockDaemonCommand command;
  command.argv = {options.sanlock_binary, "daemon", "-D", "-w", "0", "-l", "0",
                  "-h", "0", "-U", "root", "-G", "root", "-L", "-1", "-S",
                  "-1"};
  if (!options.host_name.empty()) {
    command.argv.push_back("-e");
    command.argv.push_back(options.host_name);
  }
  command.env.emplace_back("SANLOCK_RUN_DIR", options.run_dir);
  if (!options.shim_path.empty()) {
    command.env.emplace_back("LD_PRELOAD", options.shim_path);
  }
  return command;
}

bool SanlockDaemonListening(const std::string& run_dir) {
  const std::string path = SocketPath(run_dir);
  return path.size() < sizeof(sockaddr_un{}.sun_path) && Accepts(path);
}

Result<std::unique_ptr<SanlockDaemon>> SanlockDaemon::Start(
    const SanlockDaemonOptions& options) {
  if (options.run_dir.empty() ||
      SocketPath(options.run_dir).size() >= sizeof(sockaddr_un{}.sun_path)) {
    return InvalidArgumentError("sanlock run dir empty or too long: " +
                                options.run_dir);
  }
  std::unique_ptr<SanlockDaemon> daemon(new SanlockDaemon(options));
  SanlockDaemonOptions& opts = daemon->options_;
  if (opts.log_path.empty()) opts.log_path = opts.run_dir + "/sanlock.log";
  if (::mkdir(opts.run_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoToStatus(errno, "mkdir " + opts.run_dir);
  }
  UniqueFd log_fd(::open(opts.log_path.c_str(),
                         O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!log_fd) return ErrnoToStatus(errno, "open " + opts.log_path);
  UniqueFd null_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!null_fd) return ErrnoToStatus(errno, "open /dev/null");

  // Everything the child needs is built before fork (only async-signal-safe
  // calls after it).
  SanlockDaemonCommand command = BuildSanlockDaemonCommand(opts);
  std::vector<std::string>& argv = command.argv;
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.starts_with("SANLOCK_RUN_DIR=") ||
        entry.starts_with("LD_PRELOAD=")) {
      continue;
    }
    env.emplace_back(entry);
  }
  for (const auto& [name, value] : command.env) env.push_back(name + "=" + value);
  std::vector<char*> argv_ptrs = Pointers(argv);
  std::vector<char*> env_ptrs = Pointers(env);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) return ErrnoToStatus(errno, "fork sanlock daemon");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // parent already gone
    ::dup2(null_fd.get(), STDIN_FILENO);
    ::dup2(log_fd.get(), STDOUT_FILENO);
    ::dup2(log_fd.get(), STDERR_FILENO);
    ::execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from here: no race with Kill()
  daemon->pid_ = pid;
  log::Info(kLog, "started",
            {{"pid", pid}, {"run_dir", opts.run_dir}, {"log", opts.log_path}});

  const auto deadline = std::chrono::steady_clock::now() + opts.start_timeout;
  while (true) {
    int wstatus = 0;
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      daemon->pid_ = -1;
      return UnavailableError("sanlock daemon exited at start: " +
                              daemon->LogTail(1024));
    }
    if (Accepts(SocketPath(opts.run_dir))) return daemon;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string tail = daemon->LogTail(1024);
      daemon->Kill();
      return UnavailableError("sanlock daemon did not listen in time: " +
                              tail);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

SanlockDaemon::~SanlockDaemon() { Kill(); }

void SanlockDaemon::Kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
  }
  log::Info(kLog, "killed", {{"pid", pid_}, {"run_dir", options_.run_dir}});
  pid_ = -1;
}

std::string SanlockDaemon::LogTail(size_t bytes) const {
  UniqueFd fd(::open(options_.log_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return "";
  const off_t start =
      st.st_size > static_cast<off_t>(bytes) ? st.st_size - bytes : 0;
  std::string out(static_cast<size_t>(st.st_size - start), '\0');
  ssize_t n = ::pread(fd.get(), out.data(), out.size(), start);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

}  // namespace sanpool::lease
