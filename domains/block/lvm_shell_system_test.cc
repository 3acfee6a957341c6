// System test of LvmCache::LvExtendMany with the real lvm2 (root, suite
// 'system'): a VG on two 4 GiB loop devices under /var/tmp, 20 LVs of one
// extent, extended in ONE batch, which must be one lvm process; sizes are
// then checked with a fresh `lvs` (Lvm, not the cache). Also: a batch with
// one LV the VG cannot hold (that one fails with 504, the others grow), and
// a repeated batch runs no lvm command at all. LoopDevices removes the VG,
// detaches the loops and deletes the files whatever happened.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/process.h"
#include "domains/block/loop_fixture.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"

namespace sanpool::lvm {
namespace {

constexpr uint64_t kDeviceBytes = 4096 * kMiB;
constexpr int kLvs = 20;

// Counts the lvm shells (argv {"lvm"}) and lvextend processes it runs.
class CountingRunner : public ProcessRunner {
 public:
  Result<ProcessResult> Run(const ProcessSpec& spec) override {
    if (spec.argv.size() == 1) ++shells;
    if (spec.argv.size() > 1 && spec.argv[1] == "lvextend") ++lvextends;
    return real_.Run(spec);
  }
  void Start(ProcessSpec spec, Callback done) override {
    real_.Start(std::move(spec), std::move(done));
  }
  std::atomic<int> shells{0};
  std::atomic<int> lvextends{0};

 private:
  PosixProcessRunner real_;
};

std::string LvName(int i) { return "lv" + std::to_string(i); }

TEST_CASE("LvExtendMany extends 20 LVs of a real VG in one lvm process") {
  if (geteuid() != 0) {
    WARN("skipped: needs root (loop devices, lvm)");
    return;
  }
  CountingRunner runner;
  block::LoopDevices san(runner);
  san.Create("sanpool-lvmshell", 2, kDeviceBytes);
  const std::string vg = "sanpool_shelltest_" + std::to_string(getpid());
  san.set_vg(vg);
  Lvm lvm(runner, {.timeout = std::chrono::seconds(120)});
  LvmCache cache(lvm, {});
  cache.SetDevices(san.loops());
  REQUIRE(cache.PvCreate({.devices = san.loops()}).ok());
  REQUIRE(cache.PvChangeMetadataIgnore(san.loops()[0], MetadataIgnore::kNo)
              .ok());
  REQUIRE(cache.VgCreate({.name = vg, .pvs = san.loops()}).ok());
  for (int i = 0; i < kLvs; ++i) {
    REQUIRE(cache.LvCreate({.vg = vg, .name = LvName(i),
                            .size = LvSize::MiB(128)})
                .ok());
  }
  REQUIRE(cache.GetVg(vg)->free_count >= kLvs + 2);

  // Every LV from one extent to two.
  std::vector<LvExtendItem> items;
  std::map<std::string, uint64_t> want;
  for (int i = 0; i < kLvs; ++i) {
    items.push_back({LvName(i), LvSize::MiB(256)});
    want[LvName(i)] = 2 * kExtentSizeBytes;
  }
  runner.shells = 0;
  runner.lvextends = 0;
  std::vector<Status> out = cache.LvExtendMany(vg, items);
  REQUIRE(out.size() == items.size());
  for (size_t i = 0; i < out.size(); ++i) {
    INFO(items[i].lv << ": " << out[i].ToString());
    CHECK(out[i].ok());
  }
  CHECK(runner.shells == 1);
  CHECK(runner.lvextends == 0);
  CHECK(cache.Stats().batch_fallbacks == 0);

  Result<std::vector<Lv>> lvs = lvm.Lvs(san.loops(), vg);
  REQUIRE(lvs.ok());
  REQUIRE(lvs->size() == static_cast<size_t>(kLvs));
  for (const Lv& lv : *lvs) {
    INFO(lv.name);
    CHECK(lv.size_bytes == want[lv.name]);
  }

  SECTION("again: already big enough, no lvm command") {
    runner.shells = 0;
    out = cache.LvExtendMany(vg, items);
    for (const Status& s : out) CHECK(s.ok());
    CHECK(runner.shells == 0);
    CHECK(runner.lvextends == 0);
  }
  SECTION("one LV the VG cannot hold: 504 for it, the others grow") {
    const uint64_t free_now = cache.GetVg(vg)->free_count;
    std::vector<LvExtendItem> mixed = {
        {LvName(0), LvSize::MiB(want[LvName(0)] / kMiB + 128)},
        {LvName(1), LvSize::MiB((free_now + 10) * 128 * 100)},
        {"no_such_lv", LvSize::MiB(256)},
        {LvName(2), LvSize::MiB(want[LvName(2)] / kMiB + 128)}};
    runner.shells = 0;
    out = cache.LvExtendMany(vg, mixed);
    REQUIRE(out.size() == 4);
    CHECK(out[0].ok());
    CHECK(out[1].code() == Code::kResourceExhausted);
    CHECK(out[1].storage_code() == lvm_code::kVolumeGroupSizeError);
    CHECK(out[2].code() == Code::kNotFound);
    CHECK(out[2].storage_code() == lvm_code::kLogicalVolumeDoesNotExist);
    CHECK(out[3].ok());
    CHECK(runner.shells == 1);
    CHECK(runner.lvextends == 0);
    Result<Lv> lv0 = lvm.GetLv(san.loops(), vg, LvName(0));
    Result<Lv> lv1 = lvm.GetLv(san.loops(), vg, LvName(1));
    REQUIRE(lv0.ok());
    REQUIRE(lv1.ok());
    CHECK(lv0->size_bytes == want[LvName(0)] + kExtentSizeBytes);
    CHECK(lv1->size_bytes == want[LvName(1)]);
  }
}

}  // namespace
}  // namespace sanpool::lvm
