// lease-bench: sanlock lockspace join time and SDM acquire/release latency
// through a real daemon (issue 5's numbers), at the rig's io_timeout.
//
//   lease-bench [--io-timeout S] [--cycles N] [--dir DIR] [--shim SO]
//               [--json-out FILE]
//
// Starts one sanlock daemon (lease/sanlock_daemon.h; LD_PRELOAD shim from
// --shim, else $SANPOOL_SANLOCK_SHIM, else the one built beside this binary)
// with its run directory under DIR (default /var/tmp; tmpfs has no
// O_DIRECT), points this process at it (SANLOCK_RUN_DIR), writes a lockspace
// and an SDM lease into fresh files, then measures:
//   join       add_lockspace (async) until inq_lockspace says joined
//   acquire    / release of SDM, N cycles, and inquire / read_owners
//              (read_resource_owners) after each acquire
//   leave      rem_lockspace (async) until inq says not joined
// Reports p50/p99/max per operation. JSON on stdout (and --json-out), a
// table on stderr. The daemon is killed and the files removed at the end.
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_stats.h"
#include "lease/sanlock.h"
#include "lease/sanlock_daemon.h"
#include "lease/sanlock_lib.h"
#include "lease/timeouts.h"

namespace sanpool::bench {
namespace {

using Clock = std::chrono::steady_clock;
using lease::LockspaceState;

std::string DefaultShim() {
  if (const char* env = std::getenv("SANPOOL_SANLOCK_SHIM")) return env;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe",
                                                             ec);
  if (ec) return "";
  return (self.parent_path().parent_path() / "tools" / "sanlock_shim" /
          "libsanlock-shim.so")
      .string();
}

// Polls inq_lockspace every 50 ms until `want`; returns the elapsed ms or
// -1 on error/timeout.
double WaitState(lease::Sanlock& sanlock, const lease::LockspaceSpec& ls,
                 LockspaceState want, std::chrono::seconds timeout) {
  const auto start = Clock::now();
  while (Clock::now() - start < timeout) {
    Result<LockspaceState> s = sanlock.InquireLockspace(ls);
    if (!s.ok()) {
      std::cerr << s.status().ToString() << "\n";
      return -1;
    }
    if (*s == want) return MsSince(start);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return -1;
}

int Fail(const Status& s) {
  std::cerr << "lease-bench: " << s.ToString() << "\n";
  return 1;
}

int Run(int io_timeout, int cycles, const std::string& dir_parent,
        const std::string& shim, const std::string& json_out) {
  std::string dir = dir_parent + "/lease-bench-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) {
    return Fail(ErrnoToStatus(errno, "mkdtemp"));
  }
  struct RemoveDir {
    std::string path;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_dir{dir};

  constexpr uint64_t kMiB = 1 << 20;
  std::ofstream(dir + "/ids").close();
  std::ofstream(dir + "/leases").close();
  std::filesystem::resize_file(dir + "/ids", kMiB);
  std::filesystem::resize_file(dir + "/leases", 2 * kMiB);

  lease::SanlockDaemonOptions options;
  options.run_dir = dir + "/run";
  options.shim_path = shim;
  options.host_name = "lease-bench";
  Result<std::unique_ptr<lease::SanlockDaemon>> daemon =
      lease::SanlockDaemon::Start(options);
  if (!daemon.ok()) return Fail(daemon.status());
  // Before the first libsanlock call: this process is this daemon's client.
  ::setenv("SANLOCK_RUN_DIR", options.run_dir.c_str(), 1);

  lease::SanlockLib sanlock;
  const lease::LockspaceSpec ls{"lease-bench", 1, {dir + "/ids", 0}, {}};
  const lease::ResourceSpec sdm{"lease-bench", "SDM", {dir + "/leases", kMiB},
                                {}};
  const uint32_t io = static_cast<uint32_t>(io_timeout);
  const lease::Seconds io_s(io_timeout);

  Series write{"write", {}};
  auto start = Clock::now();
  lease::LockspaceSpec ls0 = ls;
  ls0.host_id = 0;
  if (Status s = sanlock.WriteLockspace(ls0, io); !s.ok()) return Fail(s);
  if (Status s = sanlock.WriteResource(sdm); !s.ok()) return Fail(s);
  write.ms.push_back(MsSince(start));

  Series join{"join", {}};
  if (Status s = sanlock.AddLockspace(ls, io); !s.ok()) return Fail(s);
  double joined = WaitState(sanlock, ls, LockspaceState::kJoined,
                            lease::JoinTimeout(io_s));
  if (joined < 0) return Fail(DeadlineExceededError("join timed out"));
  join.ms.push_back(joined);

  Series acquire{"acquire", {}}, release{"release", {}},
      inquire{"inquire", {}}, owners{"read_owners", {}};
  for (int i = 0; i < cycles; ++i) {
    start = Clock::now();
    Result<uint64_t> lver = sanlock.Acquire(sdm, {});
    if (!lver.ok()) return Fail(lver.status());
    acquire.ms.push_back(MsSince(start));

    start = Clock::now();
    Result<std::vector<lease::HeldResource>> held = sanlock.Inquire();
    if (!held.ok()) return Fail(held.status());
    inquire.ms.push_back(MsSince(start));

    start = Clock::now();
    Result<lease::ResourceOwners> own = sanlock.ReadResourceOwners(sdm);
    if (!own.ok()) return Fail(own.status());
    owners.ms.push_back(MsSince(start));

    start = Clock::now();
    if (Status s = sanlock.Release(sdm); !s.ok()) return Fail(s);
    release.ms.push_back(MsSince(start));
  }

  Series leave{"leave", {}};
  if (Status s = sanlock.RemoveLockspace(ls, lease::RemoveMode::kUnusedOnly);
      !s.ok()) {
    return Fail(s);
  }
  double left = WaitState(sanlock, ls, LockspaceState::kNotJoined,
                          std::chrono::seconds(120));
  if (left < 0) return Fail(DeadlineExceededError("leave timed out"));
  leave.ms.push_back(left);

  const std::vector<const Series*> ops = {&write,  &join,    &acquire, &inquire,
                                          &owners, &release, &leave};
  std::ostringstream json;
  json << "{\"io_timeout_s\": " << io_timeout << ", \"cycles\": " << cycles
       << ", \"ops\": {";
  std::fprintf(stderr, "io_timeout %d s, %d acquire/release cycles\n",
               io_timeout, cycles);
  PrintOpsTable("op", ops, 12, 10);
  AppendOpsJson(json, ops, /*with_count=*/true);
  json << "}}\n";
  EmitJson(json.str(), json_out);
  return 0;
}

int Main(int argc, char** argv) {
  int io_timeout = static_cast<int>(lease::kRigIoTimeout.count());
  int cycles = 50;
  std::string dir = "/var/tmp";
  std::string shim = DefaultShim();
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--io-timeout" && i + 1 < argc) {
      io_timeout = std::atoi(argv[++i]);
    } else if (arg == "--cycles" && i + 1 < argc) {
      cycles = std::atoi(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--shim" && i + 1 < argc) {
      shim = argv[++i];
    } else if (arg == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::cerr << "usage: lease-bench [--io-timeout S] [--cycles N] "
                   "[--dir DIR] [--shim SO] [--json-out FILE]\n";
      return 2;
    }
  }
  if (io_timeout < 1 || cycles < 1) {
    std::cerr << "lease-bench: --io-timeout and --cycles must be >= 1\n";
    return 2;
  }
  return Run(io_timeout, cycles, dir, shim, json_out);
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
