// BlockExtender (batched: one lvm shell per batch) and BlockRefresher
// (coalesced re-reads) over recorded lvm output and a fake device-mapper.
#include "spm/block_extend.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/fake_process.h"
#include "domains/block/lvm_shell_testdata.h"
#include "domains/block/lvm_testdata.h"
#include "domains/dm/fake_device_mapper.h"

namespace sanpool::spm {
namespace {

constexpr uint64_t kMiB = mailbox::kMiB;

// kLvsJson after vol2 grew from one extent to two.
std::string GrownLvs() {
  std::string json(lvm::testdata::kLvsJson);
  const size_t row = json.find("\"lv_name\":\"vol2\"");
  REQUIRE(row != std::string::npos);
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = json.find(from, row);
    REQUIRE(at != std::string::npos);
    json.replace(at, from.size(), to);
  };
  replace("\"lv_size\":\"134217728\"", "\"lv_size\":\"268435456\"");
  replace("\"seg_size_pe\":\"1\"", "\"seg_size_pe\":\"2\"");
  replace("/dev/loop0:4-4", "/dev/loop1:5-6");
  return json;
}

class BlockExtendTest {
 protected:
  BlockExtendTest()
      : lvm_(runner_, {}), cache_(lvm_, {}), activator_(cache_, dm_, {}) {
    cache_.SetDevices({"/dev/loop0", "/dev/loop1"});
    runner_.ExpectHandler(
        {"lvm", "lvs"},
        [this](const ProcessSpec&) -> Result<ProcessResult> {
          ProcessResult r;
          r.exit_code = 0;
          {
            std::unique_lock lock(lvs_mu_);
            ++lvs_started_;
            lvs_cv_.notify_all();
            lvs_cv_.wait(lock, [this] { return !hold_lvs_; });
          }
          r.stdout_data = grown_ ? GrownLvs()
                                 : std::string(lvm::testdata::kLvsJson);
          return r;
        },
        FakeProcessRunner::Match::kPrefix);
    runner_.Expect({"lvm", "pvs"},
                   {.stdout_data = std::string(lvm::testdata::kPvsJson)},
                   FakeProcessRunner::Match::kPrefix);
    runner_.ExpectHandler(
        {"lvm"}, [this](const ProcessSpec& spec) -> Result<ProcessResult> {
          shell_input_ = spec.stdin_data;
          grown_ = true;
          ProcessResult r;
          r.exit_code = 0;
          r.stdout_data = std::string(lvm::testdata::kShellOneExtend);
          return r;
        });
  }

  size_t Runs(std::string_view command) {
    size_t n = 0;
    for (const auto& argv : runner_.CallArgvs()) {
      if (command.empty() ? argv.size() == 1
                          : argv.size() > 1 && argv[1] == command) {
        ++n;
      }
    }
    return n;
  }

  FakeProcessRunner runner_;
  lvm::Lvm lvm_;
  lvm::LvmCache cache_;
  dm::FakeDeviceMapper dm_;
  block::Activator activator_;
  std::atomic<bool> grown_{false};
  std::string shell_input_;
  std::mutex lvs_mu_;
  std::condition_variable lvs_cv_;
  bool hold_lvs_ = false;
  int lvs_started_ = 0;
};

BlockVolumesLookup NoVolumes() {
  return [](const std::string& sd) -> Result<block::BlockVolumes*> {
    if (sd != "h4test") return NotFoundError("no domain " + sd);
    return static_cast<block::BlockVolumes*>(nullptr);
  };
}

TEST_CASE_METHOD(BlockExtendTest,
                 "batched BlockExtender: one lvm shell and one lvs re-read") {
  BlockExtender extender(NoVolumes(), cache_, activator_);
  CHECK(extender.MaxBatch() == BlockExtender::kMaxBatch);
  CHECK(BlockExtender(NoVolumes()).MaxBatch() == 1);

  std::vector<Result<uint64_t>> sizes = extender.ExtendVolumes(
      "h4test", {{"", "vol1", 1024 * kMiB},        // already 2 GiB
                 {"", "vol2", 200 * kMiB + 1}});   // 128 MiB -> 201 MiB
  REQUIRE(sizes.size() == 2);
  REQUIRE(sizes[0].ok());
  CHECK(*sizes[0] == 2048 * kMiB);
  REQUIRE(sizes[1].ok());
  CHECK(*sizes[1] == 256 * kMiB);
  CHECK(Runs("") == 1);  // the shell
  CHECK(Runs("lvextend") == 0);
  CHECK(Runs("lvs") == 2);  // before (idempotence) and after the batch
  // Only vol2 needed a command; MiB rounded up.
  CHECK(shell_input_.find("--size 201m h4test/vol2\nlastlog\n") !=
        std::string::npos);
  CHECK(shell_input_.find("vol1") == std::string::npos);
}

TEST_CASE_METHOD(BlockExtendTest,
                 "batched BlockExtender: an unknown domain fails every volume") {
  BlockExtender extender(NoVolumes(), cache_, activator_);
  std::vector<Result<uint64_t>> sizes = extender.ExtendVolumes(
      "other", {{"", "vol1", kMiB}, {"", "vol2", kMiB}});
  REQUIRE(sizes.size() == 2);
  CHECK(sizes[0].status().code() == Code::kNotFound);
  CHECK(sizes[1].status().code() == Code::kNotFound);
  CHECK(runner_.CallArgvs().empty());
}

// An extend request of 1 MiB for `vol` of the fixture's VG h4test.
mailbox::ExtendRequest RequestFor(const std::string& vol) {
  return {.domain_uuid = "h4test",
          .image_uuid = "",
          .volume_uuid = vol,
          .target_bytes = kMiB};
}

TEST_CASE_METHOD(BlockExtendTest,
                 "BlockRefresher coalesces re-reads, never reusing an older "
                 "one") {
  BlockRefresher refresher(cache_, activator_);
  grown_ = true;
  {
    std::lock_guard lock(lvs_mu_);
    hold_lvs_ = true;
  }
  auto refresh = [&](const std::string& vol) {
    return refresher.Refresh(RequestFor(vol),
                             VolumeRefresher::Changed::kElsewhere);
  };
  // A leads a re-read and is held in its lvs.
  std::thread a([&] { CHECK(*refresh("vol2") == 256 * kMiB); });
  {
    std::unique_lock lock(lvs_mu_);
    lvs_cv_.wait(lock, [this] { return lvs_started_ == 1; });
  }
  // B, C and D arrive while it runs: they must not use A's re-read; they
  // share the next one.
  std::vector<std::thread> later;
  later.emplace_back([&] { CHECK(*refresh("vol1") == 2048 * kMiB); });
  later.emplace_back([&] { CHECK(*refresh("vol2") == 256 * kMiB); });
  later.emplace_back(
      [&] { CHECK(refresh("nope").status().code() == Code::kNotFound); });
  while (refresher.stats().refreshes < 4) std::this_thread::yield();
  {
    std::lock_guard lock(lvs_mu_);
    hold_lvs_ = false;
    lvs_cv_.notify_all();
  }
  a.join();
  for (std::thread& t : later) t.join();
  CHECK(refresher.stats().refreshes == 4);
  CHECK(refresher.stats().rereads == 2);
  CHECK(Runs("lvs") == 2);
}

TEST_CASE_METHOD(BlockExtendTest, "BlockRefresher: a lone refresh re-reads") {
  BlockRefresher refresher(cache_, activator_);
  const mailbox::ExtendRequest r = RequestFor("vol2");
  constexpr auto kElsewhere = VolumeRefresher::Changed::kElsewhere;
  REQUIRE(refresher.Refresh(r, kElsewhere).ok());
  grown_ = true;
  Result<uint64_t> size = refresher.Refresh(r, kElsewhere);
  REQUIRE(size.ok());
  CHECK(*size == 256 * kMiB);  // not the cached 128 MiB
  CHECK(Runs("lvs") == 2);
}

TEST_CASE_METHOD(BlockExtendTest,
                 "BlockRefresher: after this host's own extend, the cache") {
  BlockRefresher refresher(cache_, activator_);
  const mailbox::ExtendRequest r = RequestFor("vol2");
  constexpr auto kHere = VolumeRefresher::Changed::kHere;
  REQUIRE(refresher.Refresh(r, kHere).ok());
  CHECK(Runs("lvs") == 1);  // nothing cached yet
  Result<uint64_t> size = refresher.Refresh(r, kHere);
  REQUIRE(size.ok());
  CHECK(*size == 128 * kMiB);
  CHECK(Runs("lvs") == 1);  // no VG re-read: this host's cache is current
  // An extend through the cache drops the LV: the next one reads it.
  grown_ = true;
  runner_.Expect({"lvm", "lvextend"}, {}, FakeProcessRunner::Match::kPrefix);
  REQUIRE(cache_.LvExtend("h4test", "vol2", lvm::LvSize::MiB(256)).ok());
  size = refresher.Refresh(r, kHere);
  REQUIRE(size.ok());
  CHECK(*size == 256 * kMiB);
  CHECK(Runs("lvs") == 2);
}

}  // namespace
}  // namespace sanpool::spm
