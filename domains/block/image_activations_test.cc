// ImageActivations over a real Activator, a FakeDeviceMapper and recorded
// lvm output (activator_fixture.h; lvm_testdata.h: VG h4test with LVs vol1
// and vol2). The image "img" is the chain vol2 (top) over vol1.
#include "domains/block/image_activations.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "domains/block/activator_fixture.h"

namespace sanpool::block {
namespace {

const std::vector<std::string> kChain = {"vol2", "vol1"};
constexpr auto kReader = ImageAccess::kReadOnly;
constexpr auto kWriter = ImageAccess::kReadWrite;

class ImageFixture : public ActivatorFixture {
 protected:
  ImageFixture() : images_(activator_, "h4test") {}

  bool Mapped(const std::string& lv) {
    return dm_.TableOf("h4test-" + lv).has_value();
  }

  // Runs `n` threads that each Acquire `access` at once; the failures.
  int AcquireConcurrently(int n, ImageAccess access) {
    std::atomic<int> failed{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        while (!go.load()) std::this_thread::yield();
        if (!images_.Acquire("img", kChain, access).ok()) ++failed;
      });
    }
    go.store(true);
    for (std::thread& t : threads) t.join();
    return failed.load();
  }

  ImageActivations images_;
};

TEST_CASE_METHOD(ImageFixture, "concurrent readers all get the image") {
  REQUIRE(AcquireConcurrently(8, kReader) == 0);
  auto holders = images_.Holders("img");
  REQUIRE(holders);
  CHECK(holders->readers == 8);
  CHECK_FALSE(holders->writer);
  CHECK(DmCalls("create h4test-vol2") == 1);
  CHECK(DmCalls("create h4test-vol1") == 1);
  // Each teardown releases one reference; the last one unmaps.
  for (int left = 7; left >= 1; --left) {
    auto r = images_.Release("img", kReader);
    REQUIRE(r.ok());
    CHECK(*r == left);
    CHECK(Mapped("vol2"));
  }
  auto last = images_.Release("img", kReader);
  REQUIRE(last.ok());
  CHECK(*last == 0);
  CHECK_FALSE(Mapped("vol2"));
  CHECK_FALSE(Mapped("vol1"));
  CHECK_FALSE(images_.Holders("img"));
}

TEST_CASE_METHOD(ImageFixture, "concurrent writers share the one writer") {
  REQUIRE(AcquireConcurrently(4, kWriter) == 0);
  auto holders = images_.Holders("img");
  REQUIRE(holders);
  CHECK(holders->writer);
  CHECK(holders->readers == 0);
  CHECK(DmCalls("create h4test-vol2") == 1);
  // The top is held exclusively: nobody else may write it on this host.
  CHECK(activator_.Activate("h4test", "vol2", LockMode::kExclusive)
            .status()
            .code() == Code::kFailedPrecondition);
  // One writer reference: one release frees it.
  auto r = images_.Release("img", kWriter);
  REQUIRE(r.ok());
  CHECK(*r == 0);
  CHECK_FALSE(Mapped("vol2"));
}

TEST_CASE_METHOD(ImageFixture, "readers and the writer at once") {
  std::thread writer([&] {
    CHECK(images_.Acquire("img", kChain, kWriter).ok());
  });
  CHECK(AcquireConcurrently(4, kReader) == 0);
  writer.join();
  auto holders = images_.Holders("img");
  REQUIRE(holders);
  CHECK(holders->writer);
  CHECK(holders->readers == 4);
  // The writer goes first: the readers keep the mapping.
  auto r = images_.Release("img", kWriter);
  REQUIRE(r.ok());
  CHECK(*r == 4);
  CHECK(Mapped("vol2"));
  CHECK_FALSE(images_.Holders("img")->writer);
  // Now a new writer may come.
  REQUIRE(images_.Acquire("img", kChain, kWriter).ok());
  // A kReadOnly release takes a reader's reference, not the writer's.
  REQUIRE(images_.Release("img", kReader).ok());
  CHECK(images_.Holders("img")->writer);
  CHECK(images_.Holders("img")->readers == 3);
}

TEST_CASE_METHOD(ImageFixture, "another top volume of a held image is refused") {
  REQUIRE(images_.Acquire("img", kChain, kReader).ok());
  auto other = images_.Acquire("img", {"vol1"}, kWriter);
  CHECK(other.status().code() == Code::kFailedPrecondition);
  CHECK(images_.Holders("img")->readers == 1);
  CHECK_FALSE(images_.Holders("img")->writer);
}

TEST_CASE_METHOD(ImageFixture, "a failed mapping leaves no reference") {
  dm_.FailNext(UnavailableError("dm is down"));
  auto r = images_.Acquire("img", kChain, kReader);
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK_FALSE(images_.Holders("img"));
  CHECK_FALSE(activator_.IsActive("h4test", "vol2"));
  CHECK_FALSE(activator_.IsActive("h4test", "vol1"));
  // Releasing what is not held is fine.
  auto none = images_.Release("img", kWriter);
  REQUIRE(none.ok());
  CHECK(*none == 0);
}

}  // namespace
}  // namespace sanpool::block
