// System test of the extend round trip on real block storage (root, suite
// 'system'), on the two-host rig of spm/extend_rig_fixture.h: a block domain
// on loop devices (real lvm2), each host with its own LVM cache and
// sanpool-dmemu daemon mapping the inbox/outbox LVs. Host 1 is the SPM (the
// batched BlockExtender: lvm's shell); host 2 asks for an extend through the
// mailbox, and must then see the grown LV through its own mapping. The rig
// stops the services and daemons, removes the VG, detaches the loops and
// deletes the files, whatever happened.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <random>
#include <string>

#include "base/env.h"
#include "base/resource_locks.h"
#include "spm/extend_rig_fixture.h"
#include "spm/extend_service.h"

namespace sanpool::spm {
namespace {

constexpr uint64_t kMiB = mailbox::kMiB;

std::string NewUuid() {
  static std::mt19937_64 rng(std::random_device{}());
  char buf[37];
  uint64_t a = rng(), b = rng();
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-8%03x-%012llx",
                static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff),
                static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

uint64_t DeviceSize(Env& env, const std::string& path) {
  auto file = env.OpenDirect(path, {.block_size = 512});
  REQUIRE(file.ok());
  Result<uint64_t> size = (*file)->Size();
  REQUIRE(size.ok());
  return *size;
}

TEST_CASE("extend round trip through the mailbox on block storage, two hosts",
          "[system]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root (loop devices, lvm2, FUSE)");
    return;
  }
  const std::string sd = NewUuid(), img = NewUuid(), vol = NewUuid();
  ExtendRig rig("sanpool-extend", sd);
  ExtendRigHost& h1 = rig.host1();
  ExtendRigHost& h2 = rig.host2();
  Env& env = rig.env();

  // Host 1 makes the domain and a thin volume (128 MiB LV).
  rig.CreateDomain("extend system test");
  rig.CreateThinVolume(img, vol, 2048 * kMiB);

  // Host 2 opens the domain and maps the volume through its own daemon.
  rig.OpenDomain();
  Result<std::string> dev2 =
      h2.activator.Activate(sd, vol, LockMode::kShared);
  REQUIRE(dev2.ok());
  const uint64_t before = DeviceSize(env, *dev2);
  CHECK(before < 512 * kMiB);

  // The SPM runs the batched BlockExtender, as the agent: one lvm shell per
  // batch.
  rig.StartServices(ExtenderKind::kBatched,
                    {.resend_timeout = std::chrono::seconds(2)},
                    std::chrono::seconds(30));

// Remote: host 2 -> mailbox -> host 1 lvextend -> reply -> host 2 reload.
  auto remote = h2.service->Extend({sd, img, vol, 512 * kMiB});
  REQUIRE(remote.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult r = remote.get();
  INFO(r.status.ToString());
  REQUIRE(r.status.ok());
  CHECK(r.path == ExtendPath::kMailbox);
  CHECK(r.size_bytes >= 512 * kMiB);
  CHECK(DeviceSize(env, *dev2) == r.size_bytes);  // host 2's mapping grew

  // Local on the SPM; host 2 reloads what host 1 did on its next request
  // (already big enough: no lvextend, only the refresh).
  auto local = h1.service->Extend({sd, img, vol, 640 * kMiB});
  REQUIRE(local.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult l = local.get();
  INFO(l.status.ToString());
  REQUIRE(l.status.ok());
  CHECK(l.path == ExtendPath::kLocal);
  auto again = h2.service->Extend({sd, img, vol, 600 * kMiB});
  REQUIRE(again.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  ExtendResult a = again.get();
  REQUIRE(a.status.ok());
  CHECK(a.size_bytes == l.size_bytes);
  CHECK(DeviceSize(env, *dev2) == l.size_bytes);

  // VG full: an error to the remote caller, nothing changed.
  auto huge = h2.service->Extend({sd, img, vol, 64 * 1024 * kMiB});
  REQUIRE(huge.wait_for(std::chrono::seconds(120)) ==
          std::future_status::ready);
  CHECK(huge.get().status.code() == Code::kResourceExhausted);

  h2.service->Stop();
  h1.service->Stop();
  CHECK(h2.activator.Deactivate(sd, vol, LockMode::kShared).ok());
}

}  // namespace
}  // namespace sanpool::spm
