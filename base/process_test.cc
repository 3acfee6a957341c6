// Tests of PosixProcessRunner against real binaries. /bin/sh appears here only
// as a test child that produces signals and odd outputs.
#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace sanpool {
namespace {

using std::chrono::milliseconds;

ProcessSpec Spec(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  return spec;
}

ProcessSpec Shell(const std::string& script) {
  return Spec({"/bin/sh", "-c", script});
}

ProcessResult MustRun(PosixProcessRunner& runner, const ProcessSpec& spec) {
  Result<ProcessResult> result = runner.Run(spec);
  INFO(FormatArgv(spec.argv) << " -> " << result.status().ToString());
  REQUIRE(result.ok());
  return std::move(result).value();
}

// True when `pid` is gone: reaped (waitpid says it is not our child) and not
// even a zombie (kill says no such process).
bool FullyReaped(pid_t pid) {
  int status;
  bool not_our_child = ::waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
  bool no_process = ::kill(pid, 0) < 0 && errno == ESRCH;
  return not_our_child && no_process;
}

// Processes of process group `pgid` that are not zombies, from /proc.
int LiveProcessesInGroup(pid_t pgid) {
  int live = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    char state;
    long ppid, pgrp;
    if (fields >> state >> ppid >> pgrp && pgrp == pgid && state != 'Z') ++live;
  }
  return live;
}

std::string FieldOf(const std::string& status_file, const std::string& key) {
  std::istringstream in(status_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      size_t start = line.find_first_not_of(" \t", key.size() + 1);
      return line.substr(start);
    }
  }
  return "";
}

TEST_CASE("Exit codes are results, not errors", "[process]") {
  PosixProcessRunner runner;
  ProcessResult ok = MustRun(runner, Spec({"/bin/true"}));
  CHECK(ok.exit_code == 0);
  CHECK(ok.term_signal == 0);
  CHECK(ok.Succeeded());
  CHECK(ok.pid > 0);
  CHECK(ok.elapsed.count() > 0);
  CHECK(CheckExit(ok, "true").ok());

  ProcessResult failed = MustRun(runner, Spec({"/bin/false"}));
  CHECK(failed.exit_code == 1);
  CHECK_FALSE(failed.Succeeded());
  Status status = CheckExit(failed, "false");
  CHECK(status.code() == Code::kUnknown);
  CHECK(status.message() == "false failed with exit code 1");

  ProcessResult seven = MustRun(runner, Shell("echo '  lvm: VG not found  ' >&2; exit 7"));
  CHECK(seven.exit_code == 7);
  status = CheckExit(seven, "lvs");
  CHECK(status.message() == "lvs failed with exit code 7: lvm: VG not found");
  REQUIRE(status.details().size() == 2);
  CHECK(status.details()[0].key == "exit_code");
  CHECK(status.details()[0].value == "7");
  CHECK(status.details()[1].value == "lvm: VG not found");
}

TEST_CASE("CheckExit keeps the end of a long stderr", "[process]") {
  ProcessResult result;
  result.exit_code = 3;
  result.stderr_data = std::string(5000, 'w') + "the real error\n";
  Status status = CheckExit(result, "qemu-img");
  CHECK(status.message().size() < 1200);
  CHECK(status.message().find("...") != std::string_view::npos);
  CHECK(status.message().substr(status.message().size() - 14) == "the real error");
}

TEST_CASE("A terminating signal is reported", "[process]") {
  PosixProcessRunner runner;
  ProcessResult result = MustRun(runner, Shell("kill -USR1 $$; sleep 5"));
  CHECK(result.exit_code == -1);
  CHECK(result.term_signal == SIGUSR1);
  Status status = CheckExit(result, "child");
  CHECK(status.message().find("killed by signal 10 (SIGUSR1)") !=
        std::string_view::npos);
}

TEST_CASE("Programs are found through PATH without a shell", "[process]") {
  PosixProcessRunner runner;
  CHECK(MustRun(runner, Spec({"true"})).exit_code == 0);

  ProcessSpec spec = Spec({"true"});
  spec.env_set["PATH"] = "/nonexistent-dir";
  Result<ProcessResult> missing = runner.Run(spec);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == Code::kNotFound);
}

TEST_CASE("A missing binary is a start failure with the errno name",
          "[process]") {
  PosixProcessRunner runner;
  Result<ProcessResult> result = runner.Run(Spec({"/nonexistent/lvm", "lvs"}));
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kNotFound);
  CHECK(result.status().ToString().find("ENOENT") != std::string::npos);
  CHECK(result.status().message().find("/nonexistent/lvm") !=
        std::string_view::npos);

  Result<ProcessResult> not_exec = runner.Run(Spec({"/etc/passwd"}));
  REQUIRE_FALSE(not_exec.ok());
  CHECK(not_exec.status().code() == Code::kPermissionDenied);

  CHECK(runner.Run(Spec({})).status().code() == Code::kInvalidArgument);
}

TEST_CASE("stdin data reaches the child; several MiB flow both ways",
          "[process]") {
  PosixProcessRunner runner;
  std::string input;
  for (int i = 0; input.size() < (6 << 20); ++i) {
    input += "line " + std::to_string(i) + "\n";
  }
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data = input;
  ProcessResult result = MustRun(runner, spec);
  CHECK(result.exit_code == 0);
  CHECK_FALSE(result.stdout_truncated);
  CHECK(result.stdout_data.size() == input.size());
  CHECK(result.stdout_data == input);
}

TEST_CASE("Big stdout and stderr at once do not deadlock", "[process]") {
  PosixProcessRunner runner;
  ProcessResult result = MustRun(
      runner, Shell("head -c 4194304 /dev/zero & head -c 3145728 /dev/zero >&2; wait"));
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_data.size() == 4194304);
  CHECK(result.stderr_data.size() == 3145728);
}

TEST_CASE("Output beyond the limit is discarded and flagged", "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Shell("head -c 1000000 /dev/zero; echo short >&2");
  spec.max_output_bytes = 1000;
  ProcessResult result = MustRun(runner, spec);
  CHECK(result.exit_code == 0);  // The child was not blocked by the limit.
  CHECK(result.stdout_data.size() == 1000);
  CHECK(result.stdout_truncated);
  CHECK(result.stderr_data == "short\n");
  CHECK_FALSE(result.stderr_truncated);
}

TEST_CASE("Without stdin data the child reads EOF, not our stdin",
          "[process]") {
  PosixProcessRunner runner;
  ProcessResult result = MustRun(runner, Spec({"/bin/cat"}));
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_data.empty());
}

TEST_CASE("A child that ignores its stdin does not hurt the agent",
          "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Spec({"/bin/true"});
  spec.stdin_data = std::string(8 << 20, 'x');  // EPIPE, not SIGPIPE.
  CHECK(MustRun(runner, spec).exit_code == 0);
}

TEST_CASE("Environment: inherit, override, remove, clean", "[process]") {
  PosixProcessRunner runner;
  ::setenv("SANPOOL_PROCESS_TEST_A", "from-agent", 1);
  ::setenv("SANPOOL_PROCESS_TEST_B", "drop-me", 1);

  ProcessSpec spec = Spec({"/usr/bin/env"});
  spec.env_set["SANPOOL_PROCESS_TEST_C"] = "value with spaces";
  spec.env_unset = {"SANPOOL_PROCESS_TEST_B"};
  std::string env = MustRun(runner, spec).stdout_data;
  CHECK(env.find("SANPOOL_PROCESS_TEST_A=from-agent\n") != std::string::npos);
  CHECK(env.find("SANPOOL_PROCESS_TEST_B") == std::string::npos);
  CHECK(env.find("SANPOOL_PROCESS_TEST_C=value with spaces\n") !=
        std::string::npos);

  spec.env_set["SANPOOL_PROCESS_TEST_A"] = "overridden";
  env = MustRun(runner, spec).stdout_data;
  CHECK(env.find("SANPOOL_PROCESS_TEST_A=overridden\n") != std::string::npos);

  ProcessSpec clean = Spec({"/usr/bin/env"});
  clean.env_mode = EnvMode::kClean;
  clean.env_set["LC_ALL"] = "C";
  CHECK(MustRun(runner, clean).stdout_data == "LC_ALL=C\n");

  ProcessSpec bad = Spec({"/usr/bin/env"});
  bad.env_set["A=B"] = "x";
  CHECK(runner.Run(bad).status().code() == Code::kInvalidArgument);
  ::unsetenv("SANPOOL_PROCESS_TEST_A");
  ::unsetenv("SANPOOL_PROCESS_TEST_B");
}

TEST_CASE("Working directory", "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Spec({"/bin/pwd"});
  spec.working_dir = "/proc";
  CHECK(MustRun(runner, spec).stdout_data == "/proc\n");

  spec.working_dir = "/nonexistent-dir";
  Result<ProcessResult> result = runner.Run(spec);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kNotFound);
  CHECK(result.status().message().find("chdir") != std::string_view::npos);
}

TEST_CASE("No fd of the agent leaks into the child", "[process]") {
  int leaky = ::open("/dev/null", O_RDONLY);  // Deliberately not O_CLOEXEC.
  REQUIRE(leaky >= 0);
  PosixProcessRunner runner;
  ProcessResult result = MustRun(runner, Spec({"/bin/ls", "/proc/self/fd"}));
  ::close(leaky);
  std::istringstream in(result.stdout_data);
  std::set<std::string> fds;
  for (std::string fd; in >> fd;) fds.insert(fd);
  // 0-2 are the pipes; 3 is ls's own handle on the directory it lists.
  CHECK(fds == std::set<std::string>{"0", "1", "2", "3"});
}

TEST_CASE("The child gets default signals, its own session, no tty",
          "[process]") {
  // Make the agent's state unusual, as a daemon's may be.
  struct sigaction ignore = {}, old_int = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGINT, &ignore, &old_int);
  sigset_t usr1, old_mask;
  ::sigemptyset(&usr1);
  ::sigaddset(&usr1, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &usr1, &old_mask);

  PosixProcessRunner runner;
  ProcessResult status = MustRun(runner, Spec({"/bin/cat", "/proc/self/status"}));
  ProcessResult stat = MustRun(runner, Spec({"/bin/cat", "/proc/self/stat"}));

  ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ::sigaction(SIGINT, &old_int, nullptr);

  CHECK(FieldOf(status.stdout_data, "SigBlk") == "0000000000000000");
  CHECK(FieldOf(status.stdout_data, "SigIgn") == "0000000000000000");
  // /proc/self/stat: pid (comm) state ppid pgrp session tty_nr ...
  std::string after_comm =
      stat.stdout_data.substr(stat.stdout_data.rfind(')') + 2);
  std::istringstream fields(after_comm);
  std::string state;
  long ppid, pgrp, session, tty;
  fields >> state >> ppid >> pgrp >> session >> tty;
  CHECK(pgrp == stat.pid);
  CHECK(session == stat.pid);
  CHECK(tty == 0);
}

TEST_CASE("A timeout terminates and reaps the child", "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Spec({"/bin/sleep", "30"});
  spec.timeout = milliseconds(100);
  ProcessResult result = MustRun(runner, spec);
  CHECK(result.timed_out);
  CHECK_FALSE(result.cancelled);
  CHECK(result.term_signal == SIGTERM);
  CHECK(FullyReaped(result.pid));
  CHECK(CheckExit(result, "sleep").code() == Code::kDeadlineExceeded);
}

TEST_CASE("A child ignoring SIGTERM gets SIGKILL, grandchildren too",
          "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Shell("trap '' TERM; /bin/sleep 30 & /bin/sleep 30; wait");
  spec.timeout = milliseconds(100);
  spec.kill_grace = milliseconds(100);
  ProcessResult result = MustRun(runner, spec);
  CHECK(result.timed_out);
  CHECK(result.term_signal == SIGKILL);
  CHECK(FullyReaped(result.pid));
  // Nothing is left running in the child's process group (the killed
  // grandchild may linger as a zombie until init reaps it).
  CHECK(LiveProcessesInGroup(result.pid) == 0);
}

TEST_CASE("Output held open by a grandchild does not hang the runner",
          "[process]") {
  PosixProcessRunner runner;
  ProcessSpec spec = Shell("echo started; /bin/sleep 30 &");
  spec.kill_grace = milliseconds(100);
  ProcessResult result = MustRun(runner, spec);
  CHECK(result.exit_code == 0);
  CHECK(result.stdout_data == "started\n");
  ::kill(-result.pid, SIGKILL);  // Clean up the grandchild.
}

TEST_CASE("Cancellation terminates a blocking Run", "[process]") {
  PosixProcessRunner runner;
  CancellationSource source;
  ProcessSpec spec = Spec({"/bin/sleep", "30"});
  spec.cancel = source.Token();
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(50));
    source.Cancel();
  });
  ProcessResult result = MustRun(runner, spec);
  canceller.join();
  CHECK(result.cancelled);
  CHECK(result.term_signal == SIGTERM);
  CHECK(FullyReaped(result.pid));
  CHECK(CheckExit(result, "sleep").code() == Code::kCancelled);

  // Already cancelled: the child is terminated at once.
  ProcessResult again = MustRun(runner, spec);
  CHECK(again.cancelled);
}

TEST_CASE("Start calls back exactly once from another thread", "[process]") {
  PosixProcessRunner runner;
  std::promise<Result<ProcessResult>> promise;
  std::atomic<int> calls{0};
  std::thread::id callback_thread;
  ProcessSpec spec = Spec({"/bin/cat"});
  spec.stdin_data = "hello";
  runner.Start(spec, [&](Result<ProcessResult> result) {
    callback_thread = std::this_thread::get_id();
    ++calls;
    promise.set_value(std::move(result));
  });
  Result<ProcessResult> result = promise.get_future().get();
  REQUIRE(result.ok());
  CHECK(result->stdout_data == "hello");
  CHECK(callback_thread != std::this_thread::get_id());

  std::promise<Status> failed;
  runner.Start(Spec({"/nonexistent/x"}), [&](Result<ProcessResult> r) {
    ++calls;
    failed.set_value(r.status());
  });
  CHECK(failed.get_future().get().code() == Code::kNotFound);
  CHECK(calls == 2);
}

TEST_CASE("Destroying the runner cancels and reaps background children",
          "[process]") {
  // Catch2 assertions are not thread-safe: callbacks only record.
  std::mutex mu;
  std::vector<Result<ProcessResult>> results;
  {
    PosixProcessRunner runner;
    for (int i = 0; i < 3; ++i) {
      runner.Start(Spec({"/bin/sleep", "30"}), [&](Result<ProcessResult> r) {
        std::lock_guard<std::mutex> lock(mu);
        results.push_back(std::move(r));
      });
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  REQUIRE(results.size() == 3);
  for (const Result<ProcessResult>& r : results) {
    REQUIRE(r.ok());
    CHECK(r->cancelled);
    CHECK(FullyReaped(r->pid));
  }
}

TEST_CASE("Concurrent runs keep their pipes apart", "[process]") {
  PosixProcessRunner runner;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        ProcessSpec spec = Spec({"/bin/cat"});
        spec.stdin_data = std::string(100000 + t * 1000 + i, 'a' + t);
        Result<ProcessResult> r = runner.Run(spec);
        if (r.ok() && r->stdout_data == spec.stdin_data) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(good == 30);
}

TEST_CASE("stdout chunks reach on_stdout while the child still runs",
          "[process]") {
  // The child prints, then waits for a file that only the callback creates:
  // if chunks were delivered after exit, the child would wait until the
  // spec's timeout and the run would end timed out.
  std::string dir = std::filesystem::temp_directory_path() /
                    ("sanpool-stream-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string flag = dir + "/go";
  std::filesystem::remove(flag);
  ProcessSpec spec = Shell(
      "printf '    (0.00/100%%)\r'; printf '    (50.00/100%%)\r';"
      "while [ ! -e \"$1\" ]; do sleep 0.01; done;"
      "printf '    (100.00/100%%)\r'");
  spec.argv.push_back("sh");
  spec.argv.push_back(flag);
  spec.timeout = std::chrono::seconds(60);
  std::string streamed;
  bool released = false;
  spec.on_stdout = [&](std::string_view chunk) {
    streamed.append(chunk);
    if (!released && streamed.find("50.00") != std::string::npos) {
      released = true;
      std::ofstream(flag) << "go";
    }
  };
  PosixProcessRunner runner;
  ProcessResult result = MustRun(runner, spec);
  std::filesystem::remove_all(dir);
  CHECK(released);
  CHECK_FALSE(result.timed_out);
  CHECK(result.Succeeded());
  CHECK(streamed == result.stdout_data);
  CHECK(streamed.find("(100.00/100%)") != std::string::npos);
}

TEST_CASE("on_stdout sees every byte, also past the output limit",
          "[process]") {
  ProcessSpec spec = Spec({"/usr/bin/head", "-c", "300000", "/dev/zero"});
  spec.max_output_bytes = 1000;
  size_t seen = 0;
  int calls = 0;
  spec.on_stdout = [&](std::string_view chunk) {
    seen += chunk.size();
    ++calls;
  };
  PosixProcessRunner runner;
  ProcessResult result = MustRun(runner, spec);
  CHECK(seen == 300000);
  CHECK(calls >= 1);
  CHECK(result.stdout_data.size() == 1000);
  CHECK(result.stdout_truncated);
}

TEST_CASE("Start streams stdout to on_stdout before its callback",
          "[process]") {
  ProcessSpec spec = Shell("echo one; echo two");
  std::mutex mu;
  std::string streamed;
  spec.on_stdout = [&](std::string_view chunk) {
    std::lock_guard<std::mutex> lock(mu);
    streamed.append(chunk);
  };
  std::promise<std::string> done;
  PosixProcessRunner runner;
  runner.Start(spec, [&](Result<ProcessResult> result) {
    std::lock_guard<std::mutex> lock(mu);
    done.set_value(result.ok() && streamed == result->stdout_data
                       ? streamed
                       : "mismatch");
  });
  CHECK(done.get_future().get() == "one\ntwo\n");
}

TEST_CASE("FormatArgv quotes what a shell would split", "[process]") {
  CHECK(FormatArgv({"/sbin/lvm", "lvs", "-o", "vg_name,lv_name"}) ==
        "/sbin/lvm lvs -o vg_name,lv_name");
  CHECK(FormatArgv({"echo", "a b", "", "it's"}) ==
        "echo 'a b' '' 'it'\\''s'");
}

}  // namespace
}  // namespace sanpool
