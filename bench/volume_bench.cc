// volume-bench: file-domain volume create/delete and Image.prepare latency
// (issue 3's numbers), on a real file system with the real qemu-img.
//
//   volume-bench [--count N] [--dir DIR] [--json-out FILE]
//
// Creates a LOCALFS domain under DIR (default /var/tmp; tmpfs has no
// O_DIRECT), then N sparse COW volumes of 1 GiB, each the base of its own
// image, one after the other (what one SPM worker does); prepares and tears
// down every image; deletes every volume. Reports p50/p99/max per operation
// and creates per second. JSON on stdout (and --json-out), a table on
// stderr. The domain is removed at the end.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/process.h"
#include "base/resource_locks.h"
#include "bench/bench_stats.h"
#include "domains/file/file_domain.h"
#include "domains/file/file_image.h"
#include "domains/file/file_volume.h"
#include "domains/file/fs_util.h"
#include "domains/qemu_img.h"

namespace sanpool::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A UUID from a counter: 00000000-0000-4000-8000-<12 hex>.
std::string CountedUuid(int kind, int n) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-0000-4000-8000-%012x", kind, n);
  return buf;
}

template <typename F>
bool Time(Series& series, F&& f) {
  auto start = Clock::now();
  Status s = f();
  series.ms.push_back(MsSince(start));
  if (!s.ok()) std::cerr << series.name << ": " << s.ToString() << "\n";
  return s.ok();
}

int Main(int argc, char** argv) {
  int count = 1000;
  std::string parent = "/var/tmp";
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--count" && i + 1 < argc) {
      count = std::atoi(argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      parent = argv[++i];
    } else if (arg == "--json-out" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::cerr << "usage: volume-bench [--count N] [--dir DIR] "
                   "[--json-out FILE]\n";
      return 2;
    }
  }
  std::string mount = parent + "/sanpool-volume-bench-XXXXXX";
  if (mkdtemp(mount.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::unique_ptr<Env> env = NewPosixEnv();
  SystemClock clock;
  PosixProcessRunner runner;
  QemuImg qemu_img(runner);
  ResourceManager lock_manager(clock);
  const std::string sd = CountedUuid(0x5d, 1);
  file_domain::ImageLocks locks(lock_manager, sd);
  file_domain::CreateDomainParams params;
  params.sd_uuid = sd;
  params.description = "volume-bench";
  params.remote_path = mount;
  auto domain = file_domain::FileDomain::Create(*env, clock, mount, params);
  if (!domain.ok()) {
    std::cerr << domain.status().ToString() << "\n";
    return 1;
  }
  file_domain::FileVolumes volumes(**domain, qemu_img, locks);
  file_domain::FileImages images(**domain, locks, mount + "/run");

  Series create{"create"}, prepare{"prepare"}, teardown{"teardown"},
      remove{"delete"};
  bool ok = true;
  auto wall_start = Clock::now();
  for (int i = 0; i < count && ok; ++i) {
    file_domain::CreateVolumeParams p;
    p.img_uuid = CountedUuid(0x1a, i);
    p.vol_uuid = CountedUuid(0x7c, i);
    p.capacity = int64_t{1} << 30;
    p.format = formats::VolumeFormat::kCow;
    p.allocation = formats::Allocation::kSparse;
    ok = Time(create, [&] { return volumes.Create(p); });
  }
  double create_s =
      std::chrono::duration<double>(Clock::now() - wall_start).count();
  for (int i = 0; i < count && ok; ++i) {
    ok = Time(prepare, [&] {
      return images
          .Prepare(CountedUuid(0x1a, i), CountedUuid(0x7c, i),
                   file_domain::IllegalVolumes::kRefuse)
          .status();
    });
    ok = ok && Time(teardown, [&] {
           return images.Teardown(CountedUuid(0x1a, i));
         });
  }
  wall_start = Clock::now();
  for (int i = 0; i < count && ok; ++i) {
    ok = Time(remove, [&] {
      return volumes.Delete(CountedUuid(0x1a, i), CountedUuid(0x7c, i));
    });
  }
  double delete_s =
      std::chrono::duration<double>(Clock::now() - wall_start).count();
  (void)file_domain::RemoveTree(*env, mount);
  if (!ok) return 1;

  std::ostringstream json;
  json << "{\"count\": " << count << ", \"dir\": \"" << parent << "\""
       << ", \"creates_per_s\": " << count / create_s
       << ", \"deletes_per_s\": " << count / delete_s << ", \"ops\": {";
  const std::vector<const Series*> ops = {&create, &prepare, &teardown,
                                          &remove};
  PrintOpsTable("op", ops, 10, 9);
  AppendOpsJson(json, ops, /*with_count=*/false);
  json << "}}\n";
  std::fprintf(stderr, "creates/s %.1f  deletes/s %.1f\n", count / create_s,
               count / delete_s);
  EmitJson(json.str(), json_out);
  return 0;
}

}  // namespace
}  // namespace sanpool::bench

int main(int argc, char** argv) { return sanpool::bench::Main(argc, argv); }
