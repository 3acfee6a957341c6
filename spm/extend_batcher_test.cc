#include "spm/extend_batcher.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <future>
#include <memory>

#include "base/clock.h"
#include "spm/extend_test_util.h"

namespace sanpool::spm {
namespace {

using testing::ExtendFixture;
using testing::FakeExtender;
using testing::FakeVg;
using testing::FirstExtendGate;
using testing::kGiB;

// Returns one result too few: a broken Extender.
class ShortExtender final : public Extender {
 public:
  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string&, const std::vector<VolumeTarget>& v) override {
    return std::vector<Result<uint64_t>>(v.size() - 1, uint64_t{1});
  }
};

// Reports success with a size below the target.
class LyingExtender final : public Extender {
 public:
  std::vector<Result<uint64_t>> ExtendVolumes(
      const std::string&, const std::vector<VolumeTarget>& v) override {
    return std::vector<Result<uint64_t>>(v.size(), uint64_t{1});
  }
};

mailbox::ExtendRequest Request(int volume, uint64_t target) {
  return ExtendFixture::Request(volume, target);
}

TEST_CASE("batcher extends and reports the size") {
  FakeVg vg;
  FakeExtender extender(vg);
  FakeSpmRole role(true);
  SystemClock clock;
  ExtendBatcher batcher(extender, role, clock, {});
  Result<uint64_t> size = batcher.ExtendNow(Request(1, 2 * kGiB));
  REQUIRE(size.ok());
  CHECK(*size == 2 * kGiB);
  REQUIRE(extender.calls().size() == 1);
  CHECK(extender.calls()[0][0].image_uuid == Request(1, 0).image_uuid);
}

TEST_CASE("batcher refuses every request once the role is gone") {
  FakeVg vg;
  FakeExtender extender(vg);
  FakeSpmRole role(false);
  SystemClock clock;
  ExtendBatcher batcher(extender, role, clock, {});
  Result<uint64_t> size = batcher.ExtendNow(Request(1, kGiB));
  REQUIRE_FALSE(size.ok());
  CHECK(size.status().storage_code() == 654);
  CHECK(extender.calls().empty());
  CHECK(batcher.stats().not_spm == 1);
}

TEST_CASE("batcher tells the observer when each request ran") {
  FakeVg vg;
  FakeExtender extender(vg);
  FakeSpmRole role(true);
  SystemClock clock;
  std::vector<BatchedExtend> seen;  // the worker's writes happen before done
  ExtendBatcherOptions options;
  options.observer = [&seen](const BatchedExtend& b) { seen.push_back(b); };
  ExtendBatcher batcher(extender, role, clock, std::move(options));
  REQUIRE(batcher.ExtendNow(Request(1, 2 * kGiB)).ok());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].request.volume_uuid == Request(1, 0).volume_uuid);
  CHECK(seen[0].status.ok());
  CHECK(seen[0].size_bytes == 2 * kGiB);
  CHECK(seen[0].submitted <= seen[0].started);
  CHECK(seen[0].started <= seen[0].finished);
  role.set_spm(false);
  REQUIRE_FALSE(batcher.ExtendNow(Request(2, kGiB)).ok());
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].status.storage_code() == 654);
  CHECK(seen[1].size_bytes == 0);
}

TEST_CASE("batcher turns a broken extender's answers into errors") {
  FakeSpmRole role(true);
  SystemClock clock;
  SECTION("wrong number of results") {
    ShortExtender extender;
    ExtendBatcher batcher(extender, role, clock, {});
    CHECK(batcher.ExtendNow(Request(1, kGiB)).status().code() ==
          Code::kInternal);
  }
  SECTION("size below the target") {
    LyingExtender extender;
    ExtendBatcher batcher(extender, role, clock, {});
    CHECK(batcher.ExtendNow(Request(1, kGiB)).status().code() ==
          Code::kInternal);
  }
}

TEST_CASE("batcher: Shutdown cancels what is queued, later calls fail") {
  FakeVg vg;
  FakeExtender extender(vg);
  FakeSpmRole role(true);
  SystemClock clock;
  ExtendBatcher batcher(extender, role, clock, {.concurrency = 1});
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  vg.SetHook([&](const mailbox::SpmExtendRequest&) {
    entered.set_value();
    released.wait();
  });
  std::promise<Status> first, second;
  batcher.Submit(Request(1, kGiB),
                 [&](const Result<uint64_t>& r, SteadyTime, SteadyTime) {
                   first.set_value(r.status());
                 });
  entered.get_future().wait();
  batcher.Submit(Request(2, kGiB),
                 [&](const Result<uint64_t>& r, SteadyTime, SteadyTime) {
                   second.set_value(r.status());
                 });
  std::thread stopper([&] { batcher.Shutdown(); });
  CHECK(second.get_future().get().code() == Code::kCancelled);
  release.set_value();
  stopper.join();
  CHECK(first.get_future().get().ok());  // the running call finished
  CHECK(batcher.ExtendNow(Request(3, kGiB)).status().code() ==
        Code::kUnavailable);
}


TEST_CASE("batcher runs several calls for one domain up to per_domain") {
  FakeVg vg;
  FakeExtender extender(vg);
  FakeSpmRole role(true);
  SystemClock clock;
  ExtendBatcher batcher(extender, role, clock,
                        {.concurrency = 4, .per_domain = 2});
  std::promise<void> both;
  std::shared_future<void> both_in = both.get_future().share();
  std::atomic<int> inside{0};
  vg.SetHook([&](const mailbox::SpmExtendRequest&) {
    if (++inside == 2) both.set_value();
    // Two calls of the same domain are inside at once, or this times out.
    CHECK(both_in.wait_for(std::chrono::seconds(30)) ==
          std::future_status::ready);
  });
  std::future<Result<uint64_t>> first = std::async(
      std::launch::async, [&] { return batcher.ExtendNow(Request(1, kGiB)); });
  Result<uint64_t> second = batcher.ExtendNow(Request(2, kGiB));
  CHECK(second.ok());
  CHECK(first.get().ok());
}

TEST_CASE("batcher never batches for an extender with MaxBatch 1") {
  FakeVg vg;
  FakeExtender extender(vg);
  extender.set_max_batch(1);
  FakeSpmRole role(true);
  SystemClock clock;
  ExtendBatcher batcher(extender, role, clock,
                        {.concurrency = 2, .per_domain = 1});
  FirstExtendGate gate(vg);
  std::future<Result<uint64_t>> blocked = std::async(
      std::launch::async, [&] { return batcher.ExtendNow(Request(1, kGiB)); });
  gate.WaitEntered();
  std::vector<std::future<Result<uint64_t>>> rest;
  for (int i = 2; i <= 10; ++i) {
    rest.push_back(std::async(std::launch::async, [&batcher, i] {
      return batcher.ExtendNow(Request(i, kGiB));
    }));
  }
  gate.Release();
  CHECK(blocked.get().ok());
  for (auto& r : rest) CHECK(r.get().ok());
  CHECK(extender.calls().size() == 10);
  CHECK(batcher.stats().largest_batch == 1);
}

}  // namespace
}  // namespace sanpool::spm
