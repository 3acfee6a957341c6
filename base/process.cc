#include "base/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "base/log.h"
#include "base/thread_annotations.h"

extern char** environ;

namespace sanpool {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kDefaultPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
constexpr size_t kStderrExcerptBytes = 1024;
constexpr size_t kReadChunk = 64 << 10;
constexpr auto kNoPidfdPollInterval = std::chrono::milliseconds(10);

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so call the syscalls directly.
int PidfdOpen(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Owns one file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~Fd() { Close(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoToStatus(errno, "pipe2");
  *read_end = Fd(fds[0]);
  *write_end = Fd(fds[1]);
  return Status::Ok();
}

bool HasNul(std::string_view s) { return s.find('\0') != s.npos; }

// Everything execve needs, built before fork so that the child allocates
// nothing.
struct PreparedExec {
  std::string path;
  std::vector<std::string> env_strings;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

Status ResolveProgram(const std::string& name, const std::string* env_path,
                      std::string* path) {
  if (name.find('/') != name.npos) {
    *path = name;
    return Status::Ok();
  }
  std::string search;
  if (env_path != nullptr) {
    search = *env_path;
  } else if (const char* p = ::getenv("PATH"); p != nullptr) {
    search = p;
  } else {
    search = kDefaultPath;
  }
  bool found_not_executable = false;
  size_t begin = 0;
  while (begin <= search.size()) {
    size_t end = search.find(':', begin);
    if (end == search.npos) end = search.size();
    std::string dir = search.substr(begin, end - begin);
    begin = end + 1;
    if (dir.empty()) continue;  // Never run from the working directory.
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::access(candidate.c_str(), X_OK) == 0) {
      *path = std::move(candidate);
      return Status::Ok();
    }
    found_not_executable = true;
  }
  return ErrnoToStatus(found_not_executable ? EACCES : ENOENT,
                       "cannot run " + name + " (PATH=" + search + ")");
}

Result<PreparedExec> Prepare(const ProcessSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return InvalidArgumentError("process spec has an empty argv");
  }
  for (const std::string& arg : spec.argv) {
    if (HasNul(arg)) return InvalidArgumentError("argv contains a NUL byte");
  }
  std::map<std::string, std::string> env;
  if (spec.env_mode == EnvMode::kInherit) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view entry(*e);
      size_t eq = entry.find('=');
      if (eq == entry.npos || eq == 0) continue;
      env.emplace(std::string(entry.substr(0, eq)),
                  std::string(entry.substr(eq + 1)));
    }
  }
  for (const std::string& name : spec.env_unset) env.erase(name);
  for (const auto& [name, value] : spec.env_set) {
    if (name.empty() || name.find('=') != name.npos || HasNul(name) ||
        HasNul(value)) {
      return InvalidArgumentError("invalid environment variable name or value: " +
                                  name);
    }
    env[name] = value;
  }

  PreparedExec exec;
  auto path_it = env.find("PATH");
  RETURN_IF_ERROR(ResolveProgram(
      spec.argv[0], path_it == env.end() ? nullptr : &path_it->second,
      &exec.path));
  exec.env_strings.reserve(env.size());
  for (const auto& [name, value] : env) {
    exec.env_strings.push_back(name + "=" + value);
  }
  for (const std::string& arg : spec.argv) {
    exec.argv.push_back(const_cast<char*>(arg.c_str()));
  }
  exec.argv.push_back(nullptr);
  for (std::string& entry : exec.env_strings) exec.envp.push_back(entry.data());
  exec.envp.push_back(nullptr);
  return exec;
}

// What the child reports through the exec-error pipe when setup fails.
struct ChildFailure {
  enum Stage : int { kSetup = 1, kChdir = 2, kExec = 3 };
  int stage;
  int err;
};

[[noreturn]] void ChildFail(int report_fd, int stage) {
  ChildFailure failure{stage, errno};
  ssize_t ignored = ::write(report_fd, &failure, sizeof(failure));
  (void)ignored;
  ::_exit(127);
}

// Runs in the forked child: async-signal-safe calls only, no allocation.
[[noreturn]] void ChildExec(int in_fd, int out_fd, int err_fd, int report_fd,
                            const PreparedExec& exec, const char* cwd) {
  // Move our four fds out of the 0..3 range first so that the dup2 calls
  // below cannot overwrite one another.
  int fds[4] = {in_fd, out_fd, err_fd, report_fd};
  for (int& fd : fds) {
    fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
    if (fd < 0) ChildFail(report_fd, ChildFailure::kSetup);
  }
  report_fd = fds[3];
  // New session: own process group (so timeouts kill grandchildren too) and
  // no controlling terminal.
  ::setsid();
  struct sigaction dfl;
  ::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int target = 0; target < 3; ++target) {
    if (::dup2(fds[target], target) < 0) {
      ChildFail(report_fd, ChildFailure::kSetup);
    }
  }
  if (::dup3(report_fd, 3, O_CLOEXEC) < 0) {
    ChildFail(report_fd, ChildFailure::kSetup);
  }
  report_fd = 3;
  if (::close_range(4, ~0U, 0) != 0) {
    for (int fd = 4; fd < 65536; ++fd) ::close(fd);
  }
  if (cwd != nullptr && ::chdir(cwd) != 0) {
    ChildFail(report_fd, ChildFailure::kChdir);
  }
  ::execve(exec.path.c_str(), exec.argv.data(), exec.envp.data());
  ChildFail(report_fd, ChildFailure::kExec);
}

struct Child {
  pid_t pid = -1;
  Fd pidfd;  // Invalid when pidfd_open is not available.
  Fd stdin_w;
  Fd stdout_r;
  Fd stderr_r;
};

Status SetNonBlocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return ErrnoToStatus(errno, "fcntl O_NONBLOCK");
  }
  return Status::Ok();
}

Result<Child> Spawn(const PreparedExec& exec, const ProcessSpec& spec) {
  Fd in_r, in_w, out_r, out_w, err_r, err_w, report_r, report_w;
  RETURN_IF_ERROR(MakePipe(&in_r, &in_w));
  RETURN_IF_ERROR(MakePipe(&out_r, &out_w));
  RETURN_IF_ERROR(MakePipe(&err_r, &err_w));
  RETURN_IF_ERROR(MakePipe(&report_r, &report_w));
  const char* cwd =
      spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();

  // Block every signal across fork so that no handler of the agent runs in
  // the child before it has reset the dispositions.
  sigset_t all, old_mask;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
  pid_t pid = ::fork();
  if (pid == 0) {
    ChildExec(in_r.get(), out_w.get(), err_w.get(), report_w.get(), exec, cwd);
  }
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid < 0) return ErrnoToStatus(fork_errno, "fork");

  in_r.Close();
  out_w.Close();
  err_w.Close();
  report_w.Close();
  // EOF on the report pipe means exec succeeded (CLOEXEC closed it).
  ChildFailure failure{0, 0};
  ssize_t n;
  do {
    n = ::read(report_r.get(), &failure, sizeof(failure));
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof(failure))) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    switch (failure.stage) {
      case ChildFailure::kChdir:
        return ErrnoToStatus(failure.err, "chdir " + spec.working_dir);
      case ChildFailure::kExec:
        return ErrnoToStatus(failure.err, "exec " + exec.path);
      default:
        return ErrnoToStatus(failure.err, "child setup for " + exec.path);
    }
  }

  Child child;
  child.pid = pid;
  child.pidfd = Fd(PidfdOpen(pid));
  child.stdin_w = std::move(in_w);
  child.stdout_r = std::move(out_r);
  child.stderr_r = std::move(err_r);
  for (const Fd* fd : {&child.stdin_w, &child.stdout_r, &child.stderr_r}) {
    // Cannot fail on a valid pipe fd; the child is reaped by the caller's
    // loop either way, so carry on.
    Status ignored = SetNonBlocking(fd->get());
    (void)ignored;
  }
  return child;
}

// write() that reports EPIPE instead of raising SIGPIPE in the agent: the
// signal is blocked for this thread and a SIGPIPE that the write raised is
// consumed before unblocking.
ssize_t WriteNoSigpipe(int fd, const char* data, size_t size) {
  sigset_t pipe_set, old_mask, pending;
  ::sigemptyset(&pipe_set);
  ::sigaddset(&pipe_set, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  ::sigpending(&pending);
  bool was_pending = ::sigismember(&pending, SIGPIPE) == 1;
  ssize_t n = ::write(fd, data, size);
  int saved_errno = errno;
  if (n < 0 && saved_errno == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (::sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = saved_errno;
  return n;
}

// Reads what is available; closes `fd` at EOF or on error. Every chunk read
// goes to `on_chunk` (when set) before the max_bytes cut.
void DrainPipe(Fd& fd, size_t max_bytes, std::string* out, bool* truncated,
               const OutputCallback& on_chunk = nullptr) {
  char buf[kReadChunk];
  while (fd.valid()) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      fd.Close();
      return;
    }
    if (on_chunk) on_chunk(std::string_view(buf, static_cast<size_t>(n)));
    size_t room = max_bytes - std::min(max_bytes, out->size());
    size_t keep = std::min(room, static_cast<size_t>(n));
    out->append(buf, keep);
    if (keep < static_cast<size_t>(n)) *truncated = true;
  }
}

void Signal(const Child& child, int sig) {
  if (child.pidfd.valid()) PidfdSendSignal(child.pidfd.get(), sig);
  // The whole process group (the child's session), grandchildren included.
  ::kill(-child.pid, sig);
  if (!child.pidfd.valid()) ::kill(child.pid, sig);
}

// Reaps without blocking; true once the child is gone.
bool TryReap(const Child& child, ProcessResult* result) {
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(child.pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  if (r < 0) {
    // ECHILD: somebody else reaped it (see the REQUIRES in process.h).
    log::Warning("process", "child reaped elsewhere", {{"pid", child.pid}});
    return true;
  }
  if (WIFEXITED(status)) result->exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result->term_signal = WTERMSIG(status);
  return true;
}

// Hands a child that survived SIGKILL to a thread that waits for it.
void ReapInBackground(Child& child) {
  pid_t pid = child.pid;
  int pidfd = child.pidfd.Release();
  log::Warning("process", "child survived SIGKILL, reaping in background",
               {{"pid", pid}});
  std::thread([pid, pidfd] {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (pidfd >= 0) ::close(pidfd);
  }).detach();
}

// The poll loop: feeds stdin, collects output, enforces timeout and
// cancellation, reaps.
ProcessResult Supervise(Child& child, const ProcessSpec& spec,
                        Clock::time_point start) {
  ProcessResult result;
  result.pid = child.pid;
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  // Declared after `wake`, so destroyed (unregistered) before it closes.
  CancellationToken::Registration cancel_registration;
  if (wake.valid()) {
    cancel_registration = spec.cancel.OnCancel([fd = wake.get()] {
      uint64_t one = 1;
      ssize_t ignored = ::write(fd, &one, sizeof(one));
      (void)ignored;
    });
  }

  const auto kNever = Clock::time_point::max();
  const auto deadline =
      spec.timeout.count() > 0 ? start + spec.timeout : kNever;
  auto kill_at = kNever;      // When SIGKILL follows SIGTERM.
  auto give_up_at = kNever;   // When a SIGKILLed child goes to the reaper.
  auto drain_until = kNever;  // After exit: how long to wait for pipe EOF.
  bool terminating = false;
  bool killed = false;
  bool exited = false;
  size_t stdin_offset = 0;
  if (spec.stdin_data.empty()) child.stdin_w.Close();

  while (true) {
    auto now = Clock::now();
    if (!exited && !terminating) {
      if (spec.cancel.IsCancelled()) {
        result.cancelled = true;
      } else if (now >= deadline) {
        result.timed_out = true;
      }
      if (result.cancelled || result.timed_out) {
        terminating = true;
        Signal(child, SIGTERM);
        kill_at = now + spec.kill_grace;
      }
    }
    if (!exited && terminating && !killed && now >= kill_at) {
      killed = true;
      Signal(child, SIGKILL);
      give_up_at = now + spec.kill_grace;
    }
    if (!exited && killed && now >= give_up_at) {
      ReapInBackground(child);
      result.term_signal = SIGKILL;
      break;
    }
    if (exited && ((!child.stdout_r.valid() && !child.stderr_r.valid()) ||
                   now >= drain_until)) {
      break;
    }

    std::vector<pollfd> fds;
    int stdin_i = -1, stdout_i = -1, stderr_i = -1, pidfd_i = -1, wake_i = -1;
    auto add = [&fds](const Fd& fd, short events) {
      fds.push_back({fd.get(), events, 0});
      return static_cast<int>(fds.size()) - 1;
    };
    if (child.stdin_w.valid()) stdin_i = add(child.stdin_w, POLLOUT);
    if (child.stdout_r.valid()) stdout_i = add(child.stdout_r, POLLIN);
    if (child.stderr_r.valid()) stderr_i = add(child.stderr_r, POLLIN);
    if (!exited && child.pidfd.valid()) pidfd_i = add(child.pidfd, POLLIN);
    if (!terminating && wake.valid()) wake_i = add(wake, POLLIN);

    auto wake_at = std::min({terminating ? kNever : deadline, kill_at,
                             give_up_at, exited ? drain_until : kNever});
    if ((!exited && !child.pidfd.valid()) ||
        (!wake.valid() && !terminating)) {
      // Without a pidfd we poll waitpid; without the eventfd, the token.
      wake_at = std::min(wake_at, now + kNoPidfdPollInterval);
    }
    int timeout_ms = -1;
    if (wake_at != kNever) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake_at - now);
      timeout_ms = static_cast<int>(
          std::clamp<int64_t>(ms.count(), 0, 24 * 3600 * 1000));
    }
    int ready = ::poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      // EINVAL/ENOMEM: nothing sensible to wait on; back off briefly.
      std::this_thread::sleep_for(kNoPidfdPollInterval);
    }

    if (stdin_i >= 0 && fds[stdin_i].revents != 0) {
      ssize_t n = WriteNoSigpipe(child.stdin_w.get(),
                                 spec.stdin_data.data() + stdin_offset,
                                 spec.stdin_data.size() - stdin_offset);
      if (n > 0) stdin_offset += static_cast<size_t>(n);
      // EPIPE: the child does not read its input; that is its business.
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          stdin_offset == spec.stdin_data.size()) {
        child.stdin_w.Close();
      }
    }
    if (stdout_i >= 0 && fds[stdout_i].revents != 0) {
      DrainPipe(child.stdout_r, spec.max_output_bytes, &result.stdout_data,
                &result.stdout_truncated, spec.on_stdout);
    }
    if (stderr_i >= 0 && fds[stderr_i].revents != 0) {
      DrainPipe(child.stderr_r, spec.max_output_bytes, &result.stderr_data,
                &result.stderr_truncated);
    }
    if (wake_i >= 0 && fds[wake_i].revents != 0) {
      uint64_t value;
      ssize_t ignored = ::read(wake.get(), &value, sizeof(value));
      (void)ignored;
    }
    if (!exited && (pidfd_i < 0 || fds[pidfd_i].revents != 0)) {
      if (TryReap(child, &result)) {
        exited = true;
        child.stdin_w.Close();
        // The pipes normally hit EOF at once; a grandchild holding them open
        // gets kill_grace before we stop listening.
        drain_until = Clock::now() + spec.kill_grace;
      }
    }
  }
  result.elapsed = Clock::now() - start;
  return result;
}

Result<ProcessResult> RunChild(const ProcessSpec& spec) {
  ASSIGN_OR_RETURN(PreparedExec exec, Prepare(spec));
  auto start = Clock::now();
  ASSIGN_OR_RETURN(Child child, Spawn(exec, spec));
  return Supervise(child, spec, start);
}

std::string TrimmedExcerpt(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n";
  size_t begin = text.find_first_not_of(kSpace);
  if (begin == text.npos) return "";
  size_t end = text.find_last_not_of(kSpace);
  text = text.substr(begin, end - begin + 1);
  if (text.size() <= kStderrExcerptBytes) return std::string(text);
  return "..." + std::string(text.substr(text.size() - kStderrExcerptBytes));
}

}  // namespace

Status CheckExit(const ProcessResult& result, std::string_view what) {
  if (result.Succeeded()) return Status::Ok();
  std::string name(what);
  if (result.cancelled) return CancelledError(name + " cancelled");
  if (result.timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof(seconds), "%.3fs",
                  std::chrono::duration<double>(result.elapsed).count());
    return DeadlineExceededError(name + " timed out after " + seconds);
  }
  std::string excerpt = TrimmedExcerpt(result.stderr_data);
  std::string message;
  Status status;
  if (result.term_signal != 0) {
    const char* abbrev = ::sigabbrev_np(result.term_signal);
    message = name + " killed by signal " + std::to_string(result.term_signal) +
              " (SIG" + (abbrev != nullptr ? abbrev : "?") + ")";
  } else {
    message = name + " failed with exit code " + std::to_string(result.exit_code);
  }
  if (!excerpt.empty()) message += ": " + excerpt;
  status = UnknownError(std::move(message));
  if (result.term_signal != 0) {
    status = std::move(status).WithDetail("signal",
                                          std::to_string(result.term_signal));
  } else {
    status = std::move(status).WithDetail("exit_code",
                                          std::to_string(result.exit_code));
  }
  if (!excerpt.empty()) status = std::move(status).WithDetail("stderr", excerpt);
  return status;
}

std::string FormatArgv(const std::vector<std::string>& argv) {
  constexpr std::string_view kSafe =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
      "_@%+=:,./-";
  std::string out;
  for (const std::string& arg : argv) {
    if (!out.empty()) out += ' ';
    if (!arg.empty() && arg.find_first_not_of(kSafe) == arg.npos) {
      out += arg;
      continue;
    }
    out += '\'';
    for (char c : arg) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

// Background children: a count the destructor waits on, and a source that
// cancels them all. Shared with the threads so that it outlives the runner
// until the last thread lets go.
struct PosixProcessRunner::AsyncState {
  Mutex mu;
  CondVar idle;
  int running GUARDED_BY(mu) = 0;
  CancellationSource shutdown;
};

PosixProcessRunner::PosixProcessRunner()
    : async_(std::make_shared<AsyncState>()) {}

PosixProcessRunner::~PosixProcessRunner() {
  async_->shutdown.Cancel();
  MutexLock lock(async_->mu);
  while (async_->running > 0) async_->idle.Wait(async_->mu);
}

Result<ProcessResult> PosixProcessRunner::Run(const ProcessSpec& spec) {
  return RunChild(spec);
}

void PosixProcessRunner::Start(ProcessSpec spec, Callback done) {
  std::shared_ptr<AsyncState> state = async_;
  {
    MutexLock lock(state->mu);
    ++state->running;
  }
  // Shared so that `done` survives a failed thread creation below.
  auto callback = std::make_shared<Callback>(std::move(done));
  auto finish = [state] {
    MutexLock lock(state->mu);
    --state->running;
    state->idle.SignalAll();
  };
  try {
    std::thread([state, spec = std::move(spec), callback, finish]() mutable {
      {
        // Cancelled by the caller's token or by the runner's destruction.
        CancellationSource combined(spec.cancel);
        auto shutdown_registration = state->shutdown.Token().OnCancel(
            [&combined] { combined.Cancel(); });
        spec.cancel = combined.Token();
        Result<ProcessResult> result = RunChild(spec);
        shutdown_registration.Reset();
        (*callback)(std::move(result));
        *callback = nullptr;
      }
      finish();
    }).detach();
  } catch (const std::system_error& e) {
    // No thread: report on the caller's thread rather than never.
    (*callback)(ErrnoToStatus(e.code().value(), "start process thread"));
    finish();
  }
}

}  // namespace sanpool
