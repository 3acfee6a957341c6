// System test: two real sanlock daemons (two hosts) contending for an SDM
// lease on files on the local disk. Needs root and the sanlock package; the
// daemons run with the LD_PRELOAD shim whose path SANPOOL_SANLOCK_SHIM gives
// (meson sets it).
//
// One test process, two hosts: libsanlock picks its daemon by
// SANLOCK_RUN_DIR at each connect, and the registration that owns a
// process's leases is per process. So each host's agent is a forked child
// of this (single-threaded) test process with its own SANLOCK_RUN_DIR and
// its own SanlockLib; the test sends it one-line commands over a pipe and
// reads one-line replies. Killing a child is "the agent process died".
//
// Bounded: every reply is awaited at most kReplyTimeout, joining at most
// JoinTimeout(io_timeout), a killed host's death HostDead + 40 s. The whole
// run takes about 1.5 min (the killed-host case waits ~HostDead(2 s) = 76 s). Cleanup (children and daemons SIGKILLed and
// reaped, files removed) runs in destructors, also when an assertion fails;
// if the whole process is killed, PR_SET_PDEATHSIG takes the children and
// daemons with it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "base/unique_fd.h"
#include "lease/sanlock.h"
#include "lease/sanlock_daemon.h"
#include "lease/sanlock_errors.h"
#include "lease/sanlock_lib.h"
#include "lease/timeouts.h"

namespace sanpool::lease {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr Seconds kIo = kRigIoTimeout;
constexpr seconds kReplyTimeout{100};  // > PaxosAcquireFreeMax, any add
constexpr uint64_t kMiB = 1 << 20;

struct Layout {
  LockspaceSpec lockspace;  // host_id filled per command
  ResourceSpec sdm;
};

// --- The child side: executes one command with a SanlockLib. ---

std::string Reply(const Status& s) {
  return "err " + std::to_string(SanlockErrorOf(s)) + " " +
         std::string(CodeName(s.code())) + " " +
         std::to_string(s.storage_code()) + " " + std::string(s.message());
}

std::string Execute(Sanlock& sanlock, Layout layout, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  uint64_t arg = 0;
  in >> cmd >> arg;
  layout.lockspace.host_id = arg;
  const uint32_t io = static_cast<uint32_t>(kIo.count());
  if (cmd == "write") {
    LockspaceSpec ls = layout.lockspace;
    ls.host_id = 0;
    Status s = sanlock.WriteLockspace(ls, io);
    if (s.ok()) s = sanlock.WriteResource(layout.sdm);
    return s.ok() ? "ok" : Reply(s);
  }
  if (cmd == "add") {
    Status s = sanlock.AddLockspace(layout.lockspace, io);
    return s.ok() ? "ok" : Reply(s);
  }
  if (cmd == "inq") {
    Result<LockspaceState> r = sanlock.InquireLockspace(layout.lockspace);
    return r.ok() ? "ok " + std::string(LockspaceStateName(*r))
                  : Reply(r.status());
  }
  if (cmd == "rem_unused") {
    Status s = sanlock.RemoveLockspace(layout.lockspace,
                                       RemoveMode::kUnusedOnly);
    return s.ok() ? "ok" : Reply(s);
  }
  if (cmd == "acquire") {
    AcquireOptions options;
    if (arg != 0) options.expected_lver = arg;
    Result<uint64_t> r = sanlock.Acquire(layout.sdm, options);
    return r.ok() ? "ok " + std::to_string(*r) : Reply(r.status());
  }
  if (cmd == "acquire_nowait") {
    AcquireOptions options;
    options.owner_wait = OwnerWait::kNoWait;
    Result<uint64_t> r = sanlock.Acquire(layout.sdm, options);
    return r.ok() ? "ok " + std::to_string(*r) : Reply(r.status());
  }
  if (cmd == "release") {
    Status s = sanlock.Release(layout.sdm);
    return s.ok() ? "ok" : Reply(s);
  }
  if (cmd == "inquire") {
    Result<std::vector<HeldResource>> r = sanlock.Inquire();
    if (!r.ok()) return Reply(r.status());
    std::string out = "ok";
    for (const HeldResource& h : *r) {
      out += " " + h.lockspace + ":" + h.name + ":" + h.disks.at(0).path +
             ":" + std::to_string(h.disks.at(0).offset) + ":" +
             std::to_string(h.lver);
    }
    return out;
  }
  if (cmd == "inspect") {
    Result<LeaseHolder> r = InspectLease(sanlock, layout.sdm);
    if (!r.ok()) return Reply(r.status());
    return "ok " + std::to_string(r->lver) + " " +
           (r->host_id ? std::to_string(*r->host_id) : "none");
  }
  if (cmd == "liveness") {
    Result<HostLiveness> r =
        HostIdLiveness(sanlock, layout.lockspace.name, arg);
    return r.ok() ? "ok " + std::string(HostLivenessName(*r))
                  : Reply(r.status());
  }
  return "err 0 INVALID_ARGUMENT 0 unknown command " + cmd;
}

[[noreturn]] void ChildMain(const std::string& run_dir, const Layout& layout,
                            int cmd_fd, int reply_fd) {
  ::setenv("SANLOCK_RUN_DIR", run_dir.c_str(), 1);
  SanlockLib sanlock;
  std::string line;
  char c = 0;
  while (::read(cmd_fd, &c, 1) == 1) {
    if (c != '\n') {
      line += c;
      continue;
    }
    std::string reply = Execute(sanlock, layout, line) + "\n";
    if (::write(reply_fd, reply.data(), reply.size()) !=
        static_cast<ssize_t>(reply.size())) {
      break;
    }
    line.clear();
  }
  ::_exit(0);  // skip the test framework's atexit work
}

// --- The parent side. ---

// One host's agent process.
class HostAgent {
 public:
  HostAgent(const std::string& run_dir, const Layout& layout) {
    int to_child[2];
    int from_child[2];
    REQUIRE(::pipe2(to_child, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(from_child, O_CLOEXEC) == 0);
    std::fflush(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::close(to_child[1]);
      ::close(from_child[0]);
      ChildMain(run_dir, layout, to_child[0], from_child[1]);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    cmd_.Reset(to_child[1]);
    reply_.Reset(from_child[0]);
  }
  ~HostAgent() { Kill(); }

  // Sends `cmd`, returns the reply line ("timeout" / "eof" if none).
  std::string Call(const std::string& cmd) {
    const std::string line = cmd + "\n";
    if (::write(cmd_.get(), line.data(), line.size()) !=
        static_cast<ssize_t>(line.size())) {
      return "eof";
    }
    std::string reply;
    const auto deadline = SteadyClock::now() + kReplyTimeout;
    while (true) {
      const auto left = std::chrono::duration_cast<milliseconds>(
          deadline - SteadyClock::now());
      if (left.count() <= 0) return "timeout";
      pollfd p{reply_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char c = 0;
      if (::read(reply_.get(), &c, 1) != 1) return "eof";
      if (c == '\n') return reply;
      reply += c;
    }
  }

  // The agent process dies (its daemon releases its leases).
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int wstatus = 0;
    while (::waitpid(pid_, &wstatus, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd cmd_;
  UniqueFd reply_;
};

// The cluster: a directory on the local disk (O_DIRECT does not work on
// tmpfs) with ids and leases files and two daemons.
class TwoHostCluster {
 public:
  TwoHostCluster() {
    char dir_template[] = "/var/tmp/sanpool-lease-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    layout_.lockspace = {"sanpool-lease-system-test", 0, {dir_ + "/ids", 0},
                         {512, kMiB}};
    layout_.sdm = {layout_.lockspace.name, "SDM", {dir_ + "/leases", kMiB},
                   {512, kMiB}};
    std::filesystem::resize_file(CreateFile(dir_ + "/ids"), kMiB);
    std::filesystem::resize_file(CreateFile(dir_ + "/leases"), 2 * kMiB);

    const char* shim = std::getenv("SANPOOL_SANLOCK_SHIM");
    for (int host = 1; host <= 2; ++host) {
      SanlockDaemonOptions options;
      options.run_dir = dir_ + "/run" + std::to_string(host);
      options.shim_path = shim != nullptr ? shim : "";
      options.host_name = "sanpool-test-host" + std::to_string(host);
      Result<std::unique_ptr<SanlockDaemon>> d = SanlockDaemon::Start(options);
      INFO(d.status().ToString());
      REQUIRE(d.ok());
      daemons_.push_back(std::move(d).value());
    }
    for (int host = 1; host <= 2; ++host) {
      agents_.push_back(std::make_unique<HostAgent>(
          daemons_[host - 1]->run_dir(), layout_));
    }
  }

  ~TwoHostCluster() {
    agents_.clear();   // children first: they talk to the daemons
    for (const auto& d : daemons_) {
      if (d->running()) {
        UNSCOPED_INFO("daemon log " << d->run_dir() << ":\n"
                                    << d->LogTail(2000));
      }
    }
    daemons_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  HostAgent& agent(int host) { return *agents_.at(host - 1); }
  SanlockDaemon& daemon(int host) { return *daemons_.at(host - 1); }
  std::string Call(int host, const std::string& cmd) {
    std::string reply = agent(host).Call(cmd);
    std::printf("host%d %-12s -> %s\n", host, cmd.c_str(), reply.c_str());
    return reply;
  }

  // Polls `inq` on both hosts until both are joined; returns the seconds
  // each took, or fails the test after JoinTimeout.
  std::vector<double> WaitJoined() {
    const auto start = SteadyClock::now();
    std::vector<double> took(2, -1);
    while (took[0] < 0 || took[1] < 0) {
      REQUIRE(SteadyClock::now() - start < JoinTimeout(kIo));
      for (int host = 1; host <= 2; ++host) {
        if (took[host - 1] >= 0) continue;
        std::string r = agent(host).Call("inq " + std::to_string(host));
        REQUIRE(r.rfind("ok ", 0) == 0);
        if (r == "ok joined") {
          took[host - 1] =
              std::chrono::duration<double>(SteadyClock::now() - start)
                  .count();
        }
      }
      std::this_thread::sleep_for(milliseconds(250));
    }
    return took;
  }

 private:
  static std::string CreateFile(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    std::fclose(f);
    return path;
  }

  std::string dir_;
  Layout layout_;
  std::vector<std::unique_ptr<SanlockDaemon>> daemons_;
  std::vector<std::unique_ptr<HostAgent>> agents_;
};

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

TEST_CASE("two hosts contend for the SDM lease through real daemons",
          "[lease][system]") {
  TwoHostCluster cluster;

  REQUIRE(cluster.Call(1, "write") == "ok");
  REQUIRE(cluster.Call(1, "add 1") == "ok");
  REQUIRE(cluster.Call(2, "add 2") == "ok");
  std::vector<double> join = cluster.WaitJoined();
  std::printf("join time at io_timeout %lld s: host1 %.1f s, host2 %.1f s\n",
              static_cast<long long>(kIo.count()), join[0], join[1]);

  // Host 1 becomes SPM.
  REQUIRE(cluster.Call(1, "acquire") == "ok 1");
  std::string held = cluster.Call(1, "inquire");
  CHECK(held.find("sanpool-lease-system-test:SDM:") != std::string::npos);
  CHECK(held.find(":1048576:1") != std::string::npos);

  // Host 2 is refused: held by a live host, AcquireLockFailure.
  std::string denied = cluster.Call(2, "acquire");
  CHECK(StartsWith(denied, "err -243 FAILED_PRECONDITION 651 "));
  CHECK(cluster.Call(2, "inspect") == "ok 1 1");
  CHECK(cluster.Call(2, "inquire") == "ok");

  // Leaving while holding the lease is refused with kUnusedOnly.
  CHECK(StartsWith(cluster.Call(1, "rem_unused 1"),
                   "err -16 FAILED_PRECONDITION 662 "));

  // Host 1 releases; host 2 takes over with the next version.
  REQUIRE(cluster.Call(1, "release") == "ok");
  CHECK(StartsWith(cluster.Call(1, "release"), "err -1 NOT_FOUND 660 "));
  REQUIRE(cluster.Call(2, "acquire") == "ok 2");
  CHECK(cluster.Call(1, "inspect") == "ok 2 2");
  CHECK(StartsWith(cluster.Call(1, "acquire"), "err -243 "));

  // Host 2's agent process dies: its daemon notices the closed connection
  // and releases the lease (within moments); host 1 acquires, guarded by
  // the version it saw.
  CHECK(StartsWith(cluster.Call(1, "acquire 1"), "err -240 ABORTED 651 "));
  cluster.agent(2).Kill();
  const auto killed = SteadyClock::now();
  std::string acquired;
  while ((acquired = cluster.Call(1, "acquire 2")) != "ok 3") {
    REQUIRE(StartsWith(acquired, "err -243 "));
    REQUIRE(SteadyClock::now() - killed < seconds(30));
    std::this_thread::sleep_for(milliseconds(100));
  }
  std::printf("acquired %.2f s after the holder process died\n",
              std::chrono::duration<double>(SteadyClock::now() - killed)
                  .count());
  std::string liveness = cluster.Call(1, "liveness 2");
  CHECK((liveness == "ok live" || liveness == "ok unknown"));

  // Host 1 leaves the lockspace cleanly.
  REQUIRE(cluster.Call(1, "release") == "ok");
  REQUIRE(cluster.Call(1, "rem_unused 1") == "ok");
  const auto start = SteadyClock::now();
  while (cluster.Call(1, "inq 1") != "ok not_joined") {
    REQUIRE(SteadyClock::now() - start < seconds(60));
    std::this_thread::sleep_for(milliseconds(250));
  }
  CHECK(StartsWith(cluster.Call(1, "acquire"),
                   "err -28 FAILED_PRECONDITION 651 "));
}

TEST_CASE("a killed host's lease is taken once the host is dead",
          "[lease][system]") {
  TwoHostCluster cluster;
  REQUIRE(cluster.Call(1, "write") == "ok");
  REQUIRE(cluster.Call(1, "add 1") == "ok");
  REQUIRE(cluster.Call(2, "add 2") == "ok");
  cluster.WaitJoined();
  REQUIRE(cluster.Call(1, "acquire") == "ok 1");

  // Host 1 dies: its daemon is killed (its agent keeps running, cut off).
  cluster.daemon(1).Kill();
  const auto killed = SteadyClock::now();
  auto since = [&] {
    return std::chrono::duration<double>(SteadyClock::now() - killed).count();
  };

  // Host 2 watches host 1 go from live to fail.
  double fail_at = -1;
  while (fail_at < 0) {
    REQUIRE(SteadyClock::now() - killed < HostDead(kIo) + seconds(40));
    std::string r = cluster.agent(2).Call("liveness 1");
    INFO(r);
    REQUIRE(StartsWith(r, "ok "));
    REQUIRE(r != "ok dead");
    if (r == "ok fail") fail_at = since();
    std::this_thread::sleep_for(milliseconds(500));
  }
  // A failing owner: kNoWait refuses at once; kWait blocks until the owner
  // is dead, then takes the lease.
  CHECK(StartsWith(cluster.Call(2, "acquire_nowait"), "err -247 "));
  REQUIRE(cluster.Call(2, "acquire") == "ok 2");
  const double taken_at = since();
  CHECK(cluster.Call(2, "liveness 1") == "ok dead");
  std::printf(
      "host 1 killed: FAIL after %.1f s, SDM taken (owner DEAD) after %.1f s "
      "(IdRenewalFail %lld s, HostDead %lld s after the last renewal)\n",
      fail_at, taken_at,
      static_cast<long long>(IdRenewalFail(kIo).count()),
      static_cast<long long>(HostDead(kIo).count()));
  CHECK(cluster.Call(2, "inspect") == "ok 2 2");
}

}  // namespace
}  // namespace sanpool::lease
