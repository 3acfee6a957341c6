// lvm-bench: latency of the lvm commands on the extend path, with the real
// lvm2 on loop devices (root).
//
//   lvm-bench [--count N] [--batch B] [--batch-rounds R] [--dir DIR]
//             [--use-aio] [--json-out FILE]
//
// As the agent by default (lvm.use_aio = false), every lvm command reads a
// private lvm.conf with `use_aio = 0` (lvm::WriteLvmSystemDir, under the
// bench's temp dir); --use-aio runs lvm with its own configuration, for
// the comparison.
//
// Builds a throw-away SAN: one sparse file of (N + 8) extents under DIR
// (default /var/tmp) on a loop device, a VG with 128 MiB extents and one
// LV of one extent. Then N lvextends of one extent each (what the SPM runs per extend
// request, through Lvm with --driverloaded n and the per-call device
// filter) and N `lvs --segments <vg>/<lv>` reports (what a dm table reload
// reads). Then the SPM's batch (issue 6): B more LVs of one extent, and R
// rounds of growing all B by one extent, first with B lvextend processes
// one after the other ("B x lvextend"), then with one lvm shell running
// the B lvextends (Lvm::LvExtendMany, "1 shell x B"); the rows are the
// time for the whole batch. Reports p50/p99/max per command: JSON on stdout (and
// --json-out), a table on stderr. The VG, loop device and file are removed
// at the end, also after a failure.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/process.h"
#include "bench/bench_stats.h"
#include "domains/block/lvm.h"

namespace sanpool::bench {
namespace {

using Clock = std::chrono::steady_clock;
using lvm::LvSize;

Result<ProcessResult> RunTool(ProcessRunner& runner,
                              std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(30);
  return runner.Run(spec);
}

// The bench's SAN; the destructor removes it.
struct San {
  explicit San(ProcessRunner& r, lvm::Lvm& l) : runner(r), lvm(l) {}
  ~San() {
    if (!vg.empty() && !loop.empty()) {
      Status s = lvm.VgRemove({loop}, vg);
      (void)s;
    }
    if (!loop.empty()) {
      Result<ProcessResult> d = RunTool(runner, {"losetup", "-d", loop});
      if (!d.ok() || !d->Succeeded()) {
        std::fprintf(stderr, "lvm-bench: could not detach %s\n", loop.c_str());
      }
    }
    if (!file.empty()) unlink(file.c_str());
    if (!dir.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);  // lun, lvm/
    }
  }

  ProcessRunner& runner;
  lvm::Lvm& lvm;
  std::string dir, file, loop, vg;
};

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "lvm-bench: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  return 1;
}

int Main(int argc, char** argv) {
  int count = 50;
  int batch = 20;
  int batch_rounds = 3;
  std::string parent = "/var/tmp";
  std::string json_out;
  bool use_aio = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--batch" && i + 1 < argc) {
      batch = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--batch-rounds" && i + 1 < argc) {
      batch_rounds = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else if (arg == "--use-aio") {
      use_aio = true;
    } else {
      std::cerr << "usage: lvm-bench [--count N] [--batch B] "
                   "[--batch-rounds R] [--dir DIR] [--use-aio] "
                   "[--json-out FILE]\n";
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::fprintf(stderr, "lvm-bench: needs root (loop devices, lvm)\n");
    return 1;
  }
  std::string tmpl = parent + "/sanpool-lvm-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Fail("mkdtemp", ErrnoToStatus(errno, tmpl));
  }
  std::string system_dir;
  if (!use_aio) {
    system_dir = tmpl + "/lvm";
    std::unique_ptr<Env> env = NewPosixEnv();
    if (Status s = lvm::WriteLvmSystemDir(*env, system_dir); !s.ok()) {
      std::error_code ignored;
      std::filesystem::remove_all(tmpl, ignored);
      return Fail("lvm.conf", s);
    }
  }
  PosixProcessRunner runner;
  lvm::Lvm lvm(runner, {.timeout = std::chrono::seconds(60),
                        .system_dir = system_dir});
  San san(runner, lvm);
  san.dir = tmpl;
  san.file = san.dir + "/lun";
  // Enough extents for the metadata areas, 1 + count extents and the
  // batch LVs (1 + 2 x rounds extents each).
  const uint64_t bytes =
      (static_cast<uint64_t>(count) + 8 +
       static_cast<uint64_t>(batch) * (1 + 2 * static_cast<uint64_t>(batch_rounds))) *
      lvm::kExtentSizeBytes;
  int fd = open(san.file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    return Fail("create " + san.file, ErrnoToStatus(errno, san.file));
  }
  close(fd);
  Result<ProcessResult> lo =
      RunTool(runner, {"losetup", "--find", "--show", san.file});
  if (!lo.ok()) return Fail("losetup", lo.status());
  if (!lo->Succeeded()) return Fail("losetup", CheckExit(*lo, "losetup"));
  san.loop = lo->stdout_data.substr(0, lo->stdout_data.find('\n'));
  const lvm::DeviceList devs = {san.loop};
  const std::string vg = "sanpool_lvmbench_" + std::to_string(getpid());

  Status s = lvm.PvCreate(devs, {.devices = devs,
                                 .metadata_ignore = lvm::MetadataIgnore::kNo});
  if (!s.ok()) return Fail("pvcreate", s);
  s = lvm.VgCreate(devs, {.name = vg, .pvs = devs});
  if (!s.ok()) return Fail("vgcreate", s);
  san.vg = vg;
  s = lvm.LvCreate(devs, {.vg = vg, .name = "vol", .size = LvSize::Extents(1)});
  if (!s.ok()) return Fail("lvcreate", s);

  Series extend{"lvextend", {}};
  Series report{"lvs", {}};
  for (int i = 0; i < count; ++i) {
    Clock::time_point t0 = Clock::now();
    s = lvm.LvExtend(devs, vg, "vol",
                     LvSize::Extents(static_cast<uint64_t>(i) + 2));
    Clock::time_point t1 = Clock::now();
    if (!s.ok()) return Fail("lvextend", s);
    extend.ms.push_back(Ms(t1 - t0));
  }
  for (int i = 0; i < count; ++i) {
    Clock::time_point t0 = Clock::now();
    Result<lvm::Lv> lv = lvm.GetLv(devs, vg, "vol");
    Clock::time_point t1 = Clock::now();
    if (!lv.ok()) return Fail("lvs", lv.status());
    if (lv->ExtentCount() != static_cast<uint64_t>(count) + 1) {
      return Fail("lvs", DataLossError("unexpected extent count " +
                                       std::to_string(lv->ExtentCount())));
    }
    report.ms.push_back(Ms(t1 - t0));
  }

  // The batch: B LVs grown by one extent per round, one process per LV
  // vs one lvm shell for all.
  auto name = [](int i) { return "b" + std::to_string(i); };
  for (int i = 0; i < batch; ++i) {
    s = lvm.LvCreate(devs, {.vg = vg, .name = name(i),
                            .size = LvSize::Extents(1)});
    if (!s.ok()) return Fail("lvcreate", s);
  }
  Series one_by_one{std::to_string(batch) + " x lvextend", {}};
  Series shell{"1 shell x " + std::to_string(batch), {}};
  uint64_t extents = 1;
  for (int r = 0; r < batch_rounds; ++r) {
    ++extents;
    Clock::time_point t0 = Clock::now();
    for (int i = 0; i < batch; ++i) {
      s = lvm.LvExtend(devs, vg, name(i), LvSize::Extents(extents));
      if (!s.ok()) return Fail("lvextend", s);
    }
    one_by_one.ms.push_back(Ms(Clock::now() - t0));
    ++extents;
    std::vector<lvm::LvExtendItem> items;
    for (int i = 0; i < batch; ++i) {
      items.push_back({name(i), LvSize::Extents(extents)});
    }
    t0 = Clock::now();
    Result<std::vector<Status>> out = lvm.LvExtendMany(devs, vg, items);
    shell.ms.push_back(Ms(Clock::now() - t0));
    if (!out.ok()) return Fail("lvm shell", out.status());
    for (const Status& one : *out) {
      if (!one.ok()) return Fail("lvm shell lvextend", one);
    }
  }
  Result<std::vector<lvm::Lv>> all = lvm.Lvs(devs, vg);
  if (!all.ok()) return Fail("lvs", all.status());
  for (const lvm::Lv& lv : *all) {
    if (lv.name != "vol" && lv.ExtentCount() != extents) {
      return Fail("batch", DataLossError(lv.name + " has " +
                                         std::to_string(lv.ExtentCount()) +
                                         " extents, want " +
                                         std::to_string(extents)));
    }
  }

  std::ostringstream json;
  json << "{\"count\": " << count << ", \"batch\": " << batch
       << ", \"batch_rounds\": " << batch_rounds
       << ", \"use_aio\": " << (use_aio ? "true" : "false")
       << ", \"lvm\": \"2.03 --driverloaded n\""
       << ", \"device\": \"loop\", \"results\": {";
  PrintOpsTable("command", {&extend, &report, &one_by_one, &shell}, 16, 9);
  AppendOpsJson(json, {&extend, &report, &one_by_one, &shell},
                /*with_count=*/false);
  json << "}}\n";
  EmitJson(json.str(), json_out);
  return 0;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
