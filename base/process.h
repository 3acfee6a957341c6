// ProcessRunner: runs child processes (lvm, qemu-img, sanlock client, ...)
// from an argv, never through a shell. It is an interface passed in at
// construction so that tests replay recorded tool output with
// FakeProcessRunner (base/fake_process.h) instead of running tools.
//
//   ProcessSpec spec;
//   spec.argv = {"/sbin/lvm", "lvs", "--reportformat", "json", vg};
//   spec.timeout = std::chrono::seconds(60);
//   ASSIGN_OR_RETURN(ProcessResult result, runner.Run(spec));
//   RETURN_IF_ERROR(CheckExit(result, "lvs"));
//   Parse(result.stdout_data);
//
// Error policy: a child that ran and failed (non-zero exit, signal, timeout,
// cancellation) is NOT an error Status: Run() returns the ProcessResult and the
// caller decides (lvm exit 5 means something else than qemu-img exit 1);
// CheckExit() turns any such failure into a Status when the caller does not
// care. Run() fails only when no child could be started: the binary is missing
// or not executable (kNotFound / kPermissionDenied, errno name in the "errno"
// detail), pipes or fork failed (kUnavailable / kResourceExhausted), or the
// spec is invalid (kInvalidArgument: empty argv, NUL bytes).
//
// Thread-safety: ProcessRunner implementations must be safe to call from any
// number of threads concurrently.
#ifndef SANPOOL_BASE_PROCESS_H_
#define SANPOOL_BASE_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/cancel.h"
#include "base/status.h"

namespace sanpool {

enum class EnvMode {
  kInherit,  // Start from the agent's environment.
  kClean,    // Start empty: only env_set is passed.
};

// Receives a slice of a child's output stream.
using OutputCallback = std::function<void(std::string_view chunk)>;

struct ProcessSpec {
  // argv[0] is the program: an absolute or relative path when it contains a
  // '/', else looked up in PATH (execvp semantics, without a shell): the PATH
  // of the child's environment, else the agent's, else
  // "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".
  std::vector<std::string> argv;

  // The child's environment: the base given by env_mode, minus env_unset,
  // plus env_set (which wins over both).
  EnvMode env_mode = EnvMode::kInherit;
  std::map<std::string, std::string> env_set;
  std::vector<std::string> env_unset;

  // Working directory of the child; empty = the agent's.
  std::string working_dir;

  // Written to the child's stdin, which is then closed. Empty: stdin is an
  // empty pipe (immediate EOF), never the agent's stdin.
  std::string stdin_data;

  // Zero = no limit. When it elapses the child is terminated (below) and the
  // result has timed_out set.
  std::chrono::milliseconds timeout{0};

  // Cancelling it terminates the child like a timeout; the result has
  // cancelled set.
  CancellationToken cancel;

  // Time between SIGTERM and SIGKILL on timeout/cancel.
  std::chrono::milliseconds kill_grace{2000};

  // At most this many bytes of stdout and of stderr are kept (each); the rest
  // is read and discarded (so the child never blocks on a full pipe) and the
  // stream's *_truncated flag is set.
  size_t max_output_bytes = 16 << 20;

  // When set, called with each chunk of the child's stdout as it is read,
  // while the child runs (e.g. `qemu-img convert -p` progress lines), from
  // the thread that supervises the child: the caller's for Run(), an
  // internal one for Start(). Chunks are arbitrary slices of the stream (a
  // line may be split across calls); all of them are delivered, in order,
  // including bytes past max_output_bytes, and the last one before Run()
  // returns / the Start() callback runs. The callback must not block for
  // long (the child may stall on a full pipe meanwhile) and must not throw.
  // stdout_data is filled as before.
  OutputCallback on_stdout;
};

struct ProcessResult {
  pid_t pid = 0;
  // Exit status when the child exited normally, else -1.
  int exit_code = -1;
  // The terminating signal when the child was killed by one, else 0.
  int term_signal = 0;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  bool timed_out = false;
  bool cancelled = false;
  // From start to reap, measured on the steady clock.
  std::chrono::nanoseconds elapsed{0};

  // Exited normally with status 0 and was neither timed out nor cancelled.
  bool Succeeded() const {
    return exit_code == 0 && term_signal == 0 && !timed_out && !cancelled;
  }
};

class ProcessRunner {
 public:
  // Invoked exactly once with the outcome of Start().
  using Callback = std::function<void(Result<ProcessResult>)>;

  virtual ~ProcessRunner() = default;

  // Runs the child to completion and reaps it. Blocks the calling thread (use
  // Start() or a WorkerPool from network threads). Errors: see the top of the
  // file; the child's own failures are in the result.
  virtual Result<ProcessResult> Run(const ProcessSpec& spec) = 0;

  // Runs the child in the background and invokes `done` exactly once, from an
  // internal thread, with what Run() would have returned (start failures
  // included). Never blocks on the child. Destroying the runner cancels the
  // children still running, waits for them to be reaped and for their
  // callbacks to return.
  virtual void Start(ProcessSpec spec, Callback done) = 0;
};

// Turns a failed ProcessResult into a Status naming `what`:
//   exit != 0   kUnknown "<what> failed with exit code 5: <stderr excerpt>"
//   signal      kUnknown "<what> killed by signal 9 (SIGKILL): <stderr excerpt>"
//   timed out   kDeadlineExceeded "<what> timed out after 1.500s"
//   cancelled   kCancelled "<what> cancelled"
// with details exit_code / signal / stderr (trimmed, at most the last 1 KiB).
// OK when result.Succeeded().
Status CheckExit(const ProcessResult& result, std::string_view what);

// "/sbin/lvm lvs 'a b'": argv for logs and messages, quoted where needed.
std::string FormatArgv(const std::vector<std::string>& argv);

// The real runner: fork + execve, pipes for stdin/stdout/stderr.
//
// How children are watched: each child gets a pidfd (pidfd_open); the thread
// that runs it polls the pidfd, the three pipes and an eventfd that the
// cancellation callback writes, with the timeout as poll deadline. That is
// one poll loop on the caller's thread for Run(), and one internal thread per
// child for Start() (children are few: lvm and qemu-img runs, not requests).
// Where pidfd_open is unavailable (old kernel, seccomp) the loop falls back to
// waitpid(WNOHANG) every 10 ms.
// If no thread can be created for Start(), its callback runs on the caller's
// thread with the error (the only case where it is not an internal thread).
//
// Child setup (between fork and exec, async-signal-safe calls only): new
// session (setsid: new process group, no controlling tty), all signal
// dispositions reset to default and the signal mask cleared, stdin/out/err on
// the pipes, every other fd closed (close_range), then chdir and execve.
// Exec failures come back through a CLOEXEC pipe as the child's errno.
//
// Termination: on timeout or cancellation the child's process group gets
// SIGTERM, then SIGKILL after spec.kill_grace. After the child exits, output
// still buffered in the pipes is read; if a grandchild keeps a pipe open the
// runner stops waiting for EOF after kill_grace. Children are always reaped:
// if a SIGKILLed child still has not exited after another kill_grace (stuck in
// uninterruptible I/O on dead storage), it is handed to a detached reaper
// thread and the result reports term_signal = SIGKILL.
//
// REQUIRES (process-wide): nobody calls waitpid(-1, ...) or wait() or sets
// SIGCHLD to SIG_IGN, which would reap our children behind our back (the
// result would then report exit_code -1).
class PosixProcessRunner : public ProcessRunner {
 public:
  PosixProcessRunner();
  // Cancels running Start() children and waits for their callbacks.
  ~PosixProcessRunner() override;

  Result<ProcessResult> Run(const ProcessSpec& spec) override;
  void Start(ProcessSpec spec, Callback done) override;

 private:
  struct AsyncState;
  std::shared_ptr<AsyncState> async_;
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_PROCESS_H_
