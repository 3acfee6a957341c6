// Test-only: an Activator over a FakeDeviceMapper and an LvmCache that
// replays recorded lvm output (lvm_testdata.h: VG h4test on /dev/loop0 and
// /dev/loop1, LVs vol1 in three segments and vol2). Base of the unit-test
// fixtures of domains/block/ that need LVs mapped without lvm2 or a dm:
//
//   class MyTest : public ActivatorFixture {
//    protected:
//     MyTest() : ActivatorFixture({.busy_retries = 3}) {}
//   };
//   TEST_CASE_METHOD(MyTest, "...") {
//     REQUIRE(activator_.Activate("h4test", "vol1", LockMode::kShared).ok());
//     CHECK(DmCalls("create") == 1);
//   }
//
// Every lvs/vgs/pvs run answers with the recorded output, any number of
// times. Thread-safety: as the members (the Activator and the fakes are
// thread-safe; the fixture itself is set up on one thread).
#ifndef SANPOOL_DOMAINS_BLOCK_ACTIVATOR_FIXTURE_H_
#define SANPOOL_DOMAINS_BLOCK_ACTIVATOR_FIXTURE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "base/fake_process.h"
#include "domains/block/activation.h"
#include "domains/block/lvm.h"
#include "domains/block/lvm_cache.h"
#include "domains/block/lvm_testdata.h"
#include "domains/dm/fake_device_mapper.h"

namespace sanpool::block {

class ActivatorFixture {
 protected:
  // `options` go to the Activator as they are.
  explicit ActivatorFixture(ActivatorOptions options = {})
      : lvm_(runner_, {}),
        cache_(lvm_, {}),
        activator_(cache_, dm_, std::move(options)) {
    constexpr auto kPrefix = FakeProcessRunner::Match::kPrefix;
    cache_.SetDevices({"/dev/loop0", "/dev/loop1"});
    runner_.Expect({"lvm", "lvs"},
                   {.stdout_data = std::string(lvm::testdata::kLvsJson)},
                   kPrefix);
    runner_.Expect({"lvm", "vgs"},
                   {.stdout_data = std::string(lvm::testdata::kVgsJson)},
                   kPrefix);
    runner_.Expect({"lvm", "pvs"},
                   {.stdout_data = std::string(lvm::testdata::kPvsJson)},
                   kPrefix);
  }

  // How many device-mapper calls so far start with `what` ("create",
  // "create h4test-vol1", "reload", ...).
  size_t DmCalls(std::string_view what) {
    size_t n = 0;
    for (const std::string& call : dm_.Calls()) {
      if (call.starts_with(what)) ++n;
    }
    return n;
  }

  FakeProcessRunner runner_;
  lvm::Lvm lvm_;
  lvm::LvmCache cache_;
  dm::FakeDeviceMapper dm_;
  Activator activator_;
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_ACTIVATOR_FIXTURE_H_
