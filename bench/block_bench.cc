// block-bench: block-domain numbers with the real lvm2 and sanpool-dmemu on
// loop devices over sparse files (root; issue 4).
//
//   block-bench [--count N] [--bucket B] [--ops M] [--write-mib W]
//               [--dir DIR] [--dmemu PATH] [--json-out FILE]
//
// Builds a throw-away SAN under DIR (default /var/tmp): one sparse file on a
// loop device, a VG and a block domain on it (domains/block: BlockDomain,
// BlockVolumes, Activator over a sanpool-dmemu daemon started for the run;
// PATH defaults to $SANPOOL_DMEMU, else ../tools/dmemu/sanpool-dmemu next to
// this binary). Then, through the domain code:
//   * N sparse COW volumes (1 GiB virtual, 64 MiB initial = one 128 MiB
//     extent) created one after the other, then deleted (no zeroing):
//     latency p50/p99 and volumes/s per bucket of B volumes (default N/6),
//     i.e. how the cost grows with the number of LVs in the VG;
//   * M (default 50) ExtendLv calls of +128 MiB on a mapped volume, and M
//     Activator::Refresh (reload after re-reading lvm, as another host does);
//   * W MiB (default 512) of O_DIRECT 1 MiB sequential writes through the
//     dmemu mapping of that volume vs straight to a second loop device over
//     its own sparse file.
// JSON on stdout (and --json-out), a table on stderr. The daemon (SIGTERM,
// so it removes its mappings), the VG, the loop devices and the files are
// removed at the end, also after a failure (not after SIGKILL of the bench).
#include <fcntl.h>
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

#include "base/cancel.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "domains/block/activation.h"
#include "domains/block/block_domain.h"
#include "domains/block/block_volume.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/dm/user_dm.h"
#include "domains/qemu_img.h"

namespace sanpool::bench {
namespace {

using Clock = std::chrono::steady_clock;
using block::Activator;
using block::BlockDomain;
using block::BlockVolumes;
using block::ImageLocks;

constexpr uint64_t kExtentMib = 128;
constexpr uint64_t kWriteChunk = kMiB;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Series {
  std::string name;
  std::vector<double> ms;
  // Nearest-rank percentile over [begin, end) of ms.
  double Percentile(double p, size_t begin = 0, size_t end = SIZE_MAX) const {
    end = std::min(end, ms.size());
    if (begin >= end) return 0;
    std::vector<double> sorted(ms.begin() + begin, ms.begin() + end);
    std::sort(sorted.begin(), sorted.end());
    return sorted[static_cast<size_t>(p * (sorted.size() - 1) + 0.5)];
  }
  double Sum(size_t begin, size_t end) const {
    double sum = 0;
    for (size_t i = begin; i < std::min(end, ms.size()); ++i) sum += ms[i];
    return sum;
  }
};

std::string CountedUuid(int kind, int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

Result<ProcessResult> RunTool(ProcessRunner& runner,
                              std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.timeout = std::chrono::seconds(120);
  return runner.Run(spec);
}

Status CheckRun(const Result<ProcessResult>& r, const std::string& what) {
  if (!r.ok()) return r.status();
  return CheckExit(*r, what);
}

// One sanpool-dmemu daemon run through ProcessRunner::Start; Stop() (and the
// destructor) cancels it: SIGTERM, SIGKILL after 20 s, and waits for it.
class DmemuDaemon {
 public:
  DmemuDaemon(ProcessRunner& runner, std::string binary, std::string root)
      : runner_(runner), binary_(std::move(binary)), root_(std::move(root)) {}
  ~DmemuDaemon() { Stop(); }

  Status Start() {
    std::filesystem::create_directories(root_);
    ProcessSpec spec;
    spec.argv = {binary_,      "--mount",   root_ + "/mnt", "--socket",
                 Socket(),     "--run-dir", root_ + "/run"};
    spec.cancel = cancel_.Token();
    spec.kill_grace = std::chrono::seconds(20);
    spec.max_output_bytes = 1 << 20;
    started_ = true;
    runner_.Start(std::move(spec), [this](Result<ProcessResult> r) {
      MutexLock lock(mu_);
      result_ = std::move(r);
      exited_ = true;
      cv_.SignalAll();
    });
    dm_ = std::make_unique<dm::UserDeviceMapper>(
        dm::UserDmOptions{.socket_path = Socket(), .run_dir = root_ + "/run"});
    const Clock::time_point deadline = Clock::now() + std::chrono::seconds(15);
    while (!dm_->List().ok()) {
      {
        MutexLock lock(mu_);
        if (exited_) {
          return UnavailableError("sanpool-dmemu exited: " +
                                  (result_.ok() ? result_->stderr_data
                                                : result_.status().ToString()));
        }
      }
      if (Clock::now() > deadline) {
        return DeadlineExceededError("sanpool-dmemu did not answer in 15 s");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return Status::Ok();
  }

  void Stop() {
    if (!started_) return;
    cancel_.Cancel();
    MutexLock lock(mu_);
    while (!exited_) cv_.Wait(mu_);
    started_ = false;
  }

  dm::UserDeviceMapper& dm() { return *dm_; }

 private:
  std::string Socket() const { return root_ + "/dmemu.sock"; }

  ProcessRunner& runner_;
  const std::string binary_, root_;
  CancellationSource cancel_;
  bool started_ = false;
  std::unique_ptr<dm::UserDeviceMapper> dm_;
  Mutex mu_;
  CondVar cv_;
  bool exited_ GUARDED_BY(mu_) = false;
  Result<ProcessResult> result_ GUARDED_BY(mu_) =
      UnavailableError("not exited");
};

// The bench's SAN; the destructor removes it (members are destroyed in
// reverse order: domain objects, daemon, then VG, loops and files here).
struct San {
  explicit San(ProcessRunner& r) : runner(r) {}
  ~San() {
    volumes.reset();
    domain.reset();
    activator.reset();
    if (daemon) daemon->Stop();  // dmemu removes its mappings and loops
    daemon.reset();
    if (!vg.empty() && !vg_loop.empty()) {
      lvm::Lvm lvm(runner, {.timeout = std::chrono::seconds(300)});
      Status s = lvm.VgRemove({vg_loop}, vg);
      if (!s.ok()) {
        std::fprintf(stderr, "block-bench: vgremove %s: %s\n", vg.c_str(),
                     s.ToString().c_str());
      }
    }
    for (const std::string& loop : {vg_loop, raw_loop}) {
      if (loop.empty()) continue;
      Status s = CheckRun(RunTool(runner, {"losetup", "-d", loop}), "losetup");
      if (!s.ok()) {
        std::fprintf(stderr, "block-bench: could not detach %s: %s\n",
                     loop.c_str(), s.ToString().c_str());
      }
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  ProcessRunner& runner;
  std::string dir, vg_loop, raw_loop, vg;
  std::unique_ptr<DmemuDaemon> daemon;
  std::unique_ptr<Activator> activator;
  std::unique_ptr<BlockDomain> domain;
  std::unique_ptr<BlockVolumes> volumes;
};

Result<std::string> SparseLoop(ProcessRunner& runner, const std::string& file,
                               uint64_t bytes) {
  int fd = open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoToStatus(errno, "create " + file);
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    Status s = ErrnoToStatus(errno, "truncate " + file);
    close(fd);
    return s;
  }
  close(fd);
  Result<ProcessResult> r =
      RunTool(runner, {"losetup", "--find", "--show", "--direct-io=on", file});
  RETURN_IF_ERROR(CheckRun(r, "losetup"));
  std::string dev = r->stdout_data.substr(0, r->stdout_data.find('\n'));
  return dev;
}

// Sequential O_DIRECT writes of 1 MiB, `mib` of them, then fsync; MiB/s.
Result<double> WriteThroughput(Env& env, const std::string& dev, uint64_t mib) {
  ASSIGN_OR_RETURN(auto file,
                   env.OpenDirect(dev, {.access = DirectAccess::kReadWrite,
                                        .block_size = 512}));
  AlignedBuffer buf(kWriteChunk);
  buf.CopyIn(0, std::string(kWriteChunk, 'b'));
  const Clock::time_point t0 = Clock::now();
  for (uint64_t i = 0; i < mib; ++i) {
    RETURN_IF_ERROR(file->PWrite(i * kWriteChunk, buf));
  }
  RETURN_IF_ERROR(file->Fsync());
  return static_cast<double>(mib) / (MsSince(t0) / 1000.0);
}

std::string DefaultDmemu(const char* argv0) {
  if (const char* env = std::getenv("SANPOOL_DMEMU")) return env;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) self = argv0;
  return (self.parent_path().parent_path() / "tools" / "dmemu" /
          "sanpool-dmemu").string();
}

int Fail(const std::string& what, const Status& s) {
  std::fprintf(stderr, "block-bench: %s: %s\n", what.c_str(),
               s.ToString().c_str());
  return 1;
}

struct Bucket {
  size_t begin, end;
};

std::vector<Bucket> Buckets(size_t n, size_t size) {
  std::vector<Bucket> out;
  for (size_t b = 0; b < n; b += size) out.push_back({b, std::min(n, b + size)});
  return out;
}

int Main(int argc, char** argv) {
  int count = 1500, bucket = 0, ops = 50, write_mib = 512;
  std::string parent = "/var/tmp", json_out, dmemu = DefaultDmemu(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--bucket" && i + 1 < argc) {
      bucket = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--ops" && i + 1 < argc) {
      ops = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--write-mib" && i + 1 < argc) {
      write_mib = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--dmemu" && i + 1 < argc) {
      dmemu = argv[++i];
    } else if (arg == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::cerr << "usage: block-bench [--count N] [--bucket B] [--ops M] "
                   "[--write-mib W] [--dir DIR] [--dmemu PATH] "
                   "[--json-out FILE]\n";
      return 2;
    }
  }
  if (bucket == 0) bucket = std::max(1, count / 6);
  if (geteuid() != 0) {
    std::fprintf(stderr, "block-bench: needs root (loop devices, lvm, FUSE)\n");
    return 1;
  }

  PosixProcessRunner runner;
  std::unique_ptr<Env> env = NewPosixEnv();
  SystemClock clock;
  ResourceManager manager(clock);
  lvm::Lvm lvm(runner, {.timeout = std::chrono::seconds(120)});
  lvm::LvmCache cache(lvm, {});
  QemuImg qemu_img(runner);
  std::unique_ptr<ImageLocks> locks;  // outlives san.volumes
  San san(runner);

  std::string tmpl = parent + "/sanpool-block-bench-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    return Fail("mkdtemp", ErrnoToStatus(errno, tmpl));
  }
  san.dir = tmpl;
  // Special LVs (~8 GiB), N one-extent volumes, the extend volume growing
  // by M extents, and slack.
  const uint64_t vg_bytes =
      (static_cast<uint64_t>(count) + ops + 64) * kExtentMib * kMiB +
      16ULL * 1024 * kMiB;
  Result<std::string> loop = SparseLoop(runner, san.dir + "/lun", vg_bytes);
  if (!loop.ok()) return Fail("vg loop", loop.status());
  san.vg_loop = *loop;
  loop = SparseLoop(runner, san.dir + "/raw",
                    static_cast<uint64_t>(write_mib) * kMiB);
  if (!loop.ok()) return Fail("raw loop", loop.status());
  san.raw_loop = *loop;

  const std::string sd = CountedUuid(0xb10cbe, getpid());
  locks = std::make_unique<ImageLocks>(manager, sd);
  cache.SetDevices({san.vg_loop});
  san.daemon = std::make_unique<DmemuDaemon>(runner, dmemu, san.dir + "/dmemu");
  if (Status s = san.daemon->Start(); !s.ok()) return Fail("dmemu " + dmemu, s);
  san.activator = std::make_unique<Activator>(cache, san.daemon->dm());
  block::BlockDomainDeps deps{.env = env.get(),
                              .clock = &clock,
                              .lvm = &cache,
                              .activator = san.activator.get()};

  std::fprintf(stderr, "block-bench: SAN %s (%s), VG %s, %d volumes\n",
               san.dir.c_str(), san.vg_loop.c_str(), sd.c_str(), count);
  Result<std::string> vg_uuid =
      block::CreateVolumeGroup(cache, sd, {san.vg_loop});
  if (!vg_uuid.ok()) return Fail("create VG", vg_uuid.status());
  san.vg = sd;
  Clock::time_point t0 = Clock::now();
  auto domain = BlockDomain::Create(
      deps, {.sd_uuid = sd, .description = "block-bench"});
  if (!domain.ok()) return Fail("create domain", domain.status());
  const double domain_create_ms = MsSince(t0);
  san.domain = *std::move(domain);
  san.volumes = std::make_unique<BlockVolumes>(*san.domain, qemu_img, *locks,
                                               runner);
  BlockVolumes& volumes = *san.volumes;

  // Volume create / delete.
  const std::string img = CountedUuid(1, 0);
  Series create{"create", {}}, remove{"delete", {}};
  const Clock::time_point create_start = Clock::now();
  for (int i = 0; i < count; ++i) {
    t0 = Clock::now();
    Status s = volumes.Create({.img_uuid = CountedUuid(2, i),
                               .vol_uuid = CountedUuid(3, i),
                               .capacity = 1024 * kMiB,
                               .format = formats::VolumeFormat::kCow,
                               .allocation = formats::Allocation::kSparse,
                               .description = "bench",
                               .initial_size = 64 * kMiB});
    if (!s.ok()) return Fail("create volume " + std::to_string(i), s);
    create.ms.push_back(MsSince(t0));
    if ((i + 1) % bucket == 0) {
      std::fprintf(stderr, "block-bench: %d volumes created (%.0f s)\n", i + 1,
                   MsSince(create_start) / 1000);
    }
  }
  for (int i = 0; i < count; ++i) {
    t0 = Clock::now();
    Status s = volumes.Delete(CountedUuid(2, i), CountedUuid(3, i),
                              block::PostZero::kNo);
    if (!s.ok()) return Fail("delete volume " + std::to_string(i), s);
    remove.ms.push_back(MsSince(t0));
  }

  // ExtendLv and Refresh on a mapped volume.
  const std::string vol = CountedUuid(4, 0);
  Status s = volumes.Create({.img_uuid = img,
                             .vol_uuid = vol,
                             .capacity = 64 * 1024 * kMiB,
                             .format = formats::VolumeFormat::kCow,
                             .allocation = formats::Allocation::kSparse,
                             .description = "bench extend",
                             .initial_size = 64 * kMiB});
  if (!s.ok()) return Fail("create extend volume", s);
  Result<std::string> dev = san.activator->Activate(sd, vol, LockMode::kExclusive);
  if (!dev.ok()) return Fail("activate", dev.status());
  Series extend{"extend_lv", {}}, refresh{"refresh", {}};
  for (int i = 0; i < ops; ++i) {
    t0 = Clock::now();
    Result<uint64_t> size =
        volumes.ExtendLv(vol, kExtentMib * (static_cast<uint64_t>(i) + 2));
    if (!size.ok()) return Fail("ExtendLv", size.status());
    extend.ms.push_back(MsSince(t0));
  }
  for (int i = 0; i < ops; ++i) {
    t0 = Clock::now();
    s = san.activator->Refresh(sd, vol, Activator::CacheState::kMayBeStale);
    if (!s.ok()) return Fail("Refresh", s);
    refresh.ms.push_back(MsSince(t0));
  }
  const uint64_t lv_mib = kExtentMib * (static_cast<uint64_t>(ops) + 1);
  const uint64_t mapped_mib = std::min<uint64_t>(write_mib, lv_mib);
  Result<double> mapped = WriteThroughput(*env, *dev, mapped_mib);
  if (!mapped.ok()) return Fail("write " + *dev, mapped.status());
  Result<double> raw = WriteThroughput(*env, san.raw_loop, write_mib);
  if (!raw.ok()) return Fail("write " + san.raw_loop, raw.status());
  s = san.activator->Deactivate(sd, vol, LockMode::kExclusive);
  if (!s.ok()) return Fail("deactivate", s);

  // Report.
  std::ostringstream json;
  json << "{\"count\": " << count << ", \"bucket\": " << bucket
       << ", \"device\": \"loop over sparse file\", \"dm\": \"sanpool-dmemu\""
       << ", \"domain_create_ms\": " << domain_create_ms << ", \"volumes\": {";
  std::fprintf(stderr, "\n%-9s %11s %9s %9s %9s %8s\n", "op", "volumes",
               "p50 ms", "p99 ms", "max ms", "vol/s");
  bool first_series = true;
  for (const Series* series : {&create, &remove}) {
    json << (first_series ? "" : ", ") << "\"" << series->name << "\": [";
    first_series = false;
    bool first = true;
    for (const Bucket& b : Buckets(series->ms.size(), bucket)) {
      // Volumes in the domain during the bucket: created so far for
      // create, left for delete.
      size_t lo = b.begin, hi = b.end;
      if (series == &remove) {
        lo = series->ms.size() - b.begin;
        hi = series->ms.size() - b.end;
      }
      double p50 = series->Percentile(0.5, b.begin, b.end);
      double p99 = series->Percentile(0.99, b.begin, b.end);
      double max = series->Percentile(1.0, b.begin, b.end);
      double rate = (b.end - b.begin) / (series->Sum(b.begin, b.end) / 1000);
      char range[32];
      std::snprintf(range, sizeof(range), "%zu-%zu", lo, hi);
      std::fprintf(stderr, "%-9s %11s %9.1f %9.1f %9.1f %8.2f\n",
                   series->name.c_str(), range, p50, p99, max, rate);
      json << (first ? "" : ", ") << "{\"from\": " << lo << ", \"to\": " << hi
           << ", \"p50_ms\": " << p50 << ", \"p99_ms\": " << p99
           << ", \"max_ms\": " << max << ", \"per_s\": " << rate << "}";
      first = false;
    }
    json << "]";
  }
  json << "}, \"ops\": {";
  for (const Series* series : {&create, &remove, &extend, &refresh}) {
    std::fprintf(stderr, "%-9s %11s %9.1f %9.1f %9.1f\n", series->name.c_str(),
                 ("all " + std::to_string(series->ms.size())).c_str(),
                 series->Percentile(0.5), series->Percentile(0.99),
                 series->Percentile(1.0));
    json << (series == &create ? "" : ", ") << "\"" << series->name
         << "\": {\"p50_ms\": " << series->Percentile(0.5)
         << ", \"p99_ms\": " << series->Percentile(0.99)
         << ", \"max_ms\": " << series->Percentile(1.0)
         << ", \"n\": " << series->ms.size() << "}";
  }
  std::fprintf(stderr, "\nwrite O_DIRECT 1 MiB: dmemu mapping %.1f MiB/s "
               "(%llu MiB), loop %.1f MiB/s (%d MiB)\n",
               *mapped, static_cast<unsigned long long>(mapped_mib), *raw,
               write_mib);
  json << "}, \"write\": {\"dmemu_mib_s\": " << *mapped
       << ", \"dmemu_mib\": " << mapped_mib << ", \"loop_mib_s\": " << *raw
       << ", \"loop_mib\": " << write_mib << "}}\n";
  std::cout << json.str();
  if (!json_out.empty()) std::ofstream(json_out) << json.str();
  return 0;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
