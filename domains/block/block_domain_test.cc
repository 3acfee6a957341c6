// CreateVolumeGroup's checks over recorded lvm output (lvm_testdata.h:
// /dev/loop0 and /dev/loop1 in VG h4test, tagged _UNREADY; /dev/loop2 a
// 1 GiB PV in no VG).
#include "domains/block/block_domain.h"

#include <catch2/catch.hpp>

#include "base/fake_process.h"
#include "domains/block/lvm_cache_test_util.h"
#include "domains/block/lvm_testdata.h"

namespace sanpool::block {
namespace {

constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;

class VgFixture : public lvm::testing::LvmCacheFixture {
 protected:
  VgFixture()
      : LvmCacheFixture({}, {"/dev/loop0", "/dev/loop1", "/dev/loop2"}) {
    runner_.Expect({"lvm", "pvs"},
                   {.stdout_data = std::string(lvm::testdata::kPvsJson)},
                   kPrefix);
    runner_.Expect({"lvm", "vgs"},
                   {.stdout_data = std::string(lvm::testdata::kVgsJson)},
                   kPrefix);
    for (const char* cmd : {"pvcreate", "pvchange", "vgcreate"}) {
      runner_.Expect({"lvm", cmd}, {}, kPrefix);
    }
  }
};

TEST_CASE_METHOD(VgFixture, "a device already in a VG is refused") {
  auto r = CreateVolumeGroup(cache_, "newvg", {"/dev/loop0", "/dev/loop2"});
  CHECK(r.status().code() == Code::kFailedPrecondition);
  CHECK(r.status().storage_code() == 601);
  CHECK(Runs("pvcreate") == 0);
}

TEST_CASE_METHOD(VgFixture, "less than 10 GiB is refused before vgcreate") {
  auto r = CreateVolumeGroup(cache_, "newvg", {"/dev/loop2"});
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(Runs("pvcreate") == 1);
  CHECK(Runs("vgcreate") == 0);
}

TEST_CASE_METHOD(VgFixture, "pvcreate keeps metadata on the first device only") {
  // Forced over a VG that is not a domain: pvcreate -ff, then the first
  // device's metadata area is enabled; the size check still refuses.
  auto r = CreateVolumeGroup(cache_, "newvg", {"/dev/loop0", "/dev/loop1"},
                             lvm::Force::kYes);
  CHECK(r.status().code() == Code::kInvalidArgument);
  bool enabled_first = false;
  for (const auto& argv : runner_.CallArgvs()) {
    if (argv.size() > 1 && argv[1] == "pvchange") {
      enabled_first = argv.back() == "/dev/loop0";
    }
  }
  CHECK(enabled_first);
}

TEST_CASE_METHOD(VgFixture, "no devices is refused") {
  CHECK(CreateVolumeGroup(cache_, "newvg", {}).status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace sanpool::block
