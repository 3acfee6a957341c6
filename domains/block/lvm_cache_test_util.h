// Test-only: an LvmCache over a FakeProcessRunner that replays the recorded
// h4test reports (domains/block/lvm_testdata.h), shared by the cache's tests
// (lvm_cache_test.cc) and its lvm shell path's (lvm_shell_test.cc).
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_CACHE_TEST_UTIL_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_CACHE_TEST_UTIL_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "base/fake_process.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/block/lvm_testdata.h"

namespace sanpool::lvm::testing {

// runner_ answers nothing until scripted; the cache scans `devices`
// (by default /dev/loop0 and /dev/loop1, h4test's PVs).
class LvmCacheFixture {
 protected:
  explicit LvmCacheFixture(LvmCacheOptions options = {},
                           DeviceList devices = {"/dev/loop0", "/dev/loop1"})
      : lvm_(runner_, {}), cache_(lvm_, options) {
    cache_.SetDevices(std::move(devices));
  }

  // Answers every lvs, vgs and pvs with the recorded h4test reports:
  // metadata 128 MiB, vol1 2 GiB, vol2 128 MiB.
  void ScriptReports() {
    constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;
    runner_.Expect({"lvm", "lvs"},
                   {.stdout_data = std::string(testdata::kLvsJson)}, kPrefix);
    runner_.Expect({"lvm", "vgs"},
                   {.stdout_data = std::string(testdata::kVgsJson)}, kPrefix);
    runner_.Expect({"lvm", "pvs"},
                   {.stdout_data = std::string(testdata::kPvsJson)}, kPrefix);
  }

  // How many lvm `command`s (lvs, lvextend, ...) ran, shells not counted.
  size_t Runs(std::string_view command) {
    size_t n = 0;
    for (const auto& argv : runner_.CallArgvs()) {
      if (argv.size() > 1 && argv[1] == command) ++n;
    }
    return n;
  }

  FakeProcessRunner runner_;
  Lvm lvm_;
  LvmCache cache_;
};

}  // namespace sanpool::lvm::testing

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_CACHE_TEST_UTIL_H_
