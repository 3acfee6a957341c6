#include "spm/extend_rig_fixture.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>
#include <utility>

#include "domains/dm/dm_names.h"

namespace sanpool::spm {

ExtendRigHost::ExtendRigHost(lvm::Lvm& lvm, const lvm::DeviceList& loops,
                             dmemu::Daemon& daemon, std::string sd_uuid)
    : sd_uuid(std::move(sd_uuid)),
      daemon(daemon),
      cache(lvm, {}),
      activator(cache, daemon.dm()) {
  cache.SetDevices(loops);
}

ExtendRigHost::~ExtendRigHost() {
  if (service) service->Stop();
}

void ExtendRigHost::SetFaults(const char* lv, const dm::FaultSpec& faults) {
  Result<std::string> name = dm::LvDeviceName(sd_uuid, lv);
  REQUIRE(name.ok());
  Status s = daemon.dm().SetFaults(*name, faults);
  INFO(s.ToString());
  REQUIRE(s.ok());
}

void ExtendRigHost::ClearFaults() {
  for (const char* lv : {"inbox", "outbox"}) SetFaults(lv, {});
}

ExtendRig::ExtendRig(const std::string& prefix, const std::string& sd_uuid,
                     uint64_t device_bytes)
    : sd_uuid_(sd_uuid),
      devices_(runner_),
      env_(NewPosixEnv()),
      lvm_(runner_, {}),
      qemu_img_(runner_),
      manager_(clock_),
      locks_(manager_, sd_uuid) {
  devices_.Create(prefix, 2, device_bytes);
  devices_.set_vg(sd_uuid_);
  for (const char* host : {"host1", "host2"}) {
    daemons_.push_back(std::make_unique<dmemu::Daemon>(devices_.dir(), host));
  }
  host1_ = std::make_unique<ExtendRigHost>(lvm_, devices_.loops(),
                                           *daemons_[0], sd_uuid_);
  host2_ = std::make_unique<ExtendRigHost>(lvm_, devices_.loops(),
                                           *daemons_[1], sd_uuid_);
}

void ExtendRig::CreateDomain(const std::string& description) {
  ExtendRigHost& h1 = host1();
  Result<std::string> vg_uuid =
      block::CreateVolumeGroup(h1.cache, sd_uuid_, devices_.loops());
  INFO(vg_uuid.status().ToString());
  REQUIRE(vg_uuid.ok());
  auto created = block::BlockDomain::Create(
      {.env = env_.get(), .clock = &clock_, .lvm = &h1.cache,
       .activator = &h1.activator},
      {.sd_uuid = sd_uuid_, .description = description});
  INFO(created.status().ToString());
  REQUIRE(created.ok());
  h1.domain = *std::move(created);
  h1.volumes = std::make_unique<block::BlockVolumes>(*h1.domain, qemu_img_,
                                                     locks_, runner_);
}

void ExtendRig::CreateThinVolume(const std::string& img,
                                 const std::string& vol, int64_t capacity) {
  Status made = host1().volumes->Create({.img_uuid = img,
                                         .vol_uuid = vol,
                                         .capacity = capacity,
                                         .description = "thin",
                                         .initial_size = 64 * mailbox::kMiB});
  INFO(made.ToString());
  REQUIRE(made.ok());
}

void ExtendRig::OpenDomain() {
  ExtendRigHost& h2 = host2();
  auto opened = block::BlockDomain::Open(
      {.env = env_.get(), .clock = &clock_, .lvm = &h2.cache,
       .activator = &h2.activator},
      sd_uuid_);
  INFO(opened.status().ToString());
  REQUIRE(opened.ok());
  h2.domain = *std::move(opened);
}

void ExtendRig::StartServices(ExtenderKind kind,
                              const ExtendServiceOptions& options,
                              Duration limit) {
  StartService(host1(), 1, kind, options);
  StartService(host2(), 2, kind, options);
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!host1().service->ServingMailbox()) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ExtendRig::StartService(ExtendRigHost& h, int host_id, ExtenderKind kind,
                             const ExtendServiceOptions& options) {
  h.role.set_spm(host_id == 1);
  BlockVolumesLookup lookup =
      [&h](const std::string& want) -> Result<block::BlockVolumes*> {
    if (want != h.sd_uuid || !h.volumes) return NotFoundError("no such domain");
    return h.volumes.get();
  };
  h.extender = kind == ExtenderKind::kBatched
                   ? std::make_unique<BlockExtender>(std::move(lookup), h.cache,
                                                     h.activator)
                   : std::make_unique<BlockExtender>(std::move(lookup));
  h.refresher = std::make_unique<BlockRefresher>(h.cache, h.activator);
  h.service = std::make_unique<ExtendService>(
      ExtendServiceDeps{
          .env = env_.get(),
          .clock = &clock_,
          .role = &h.role,
          .extender = h.extender.get(),
          .refresher = h.refresher.get(),
          .locate = [&h, host_id]() -> Result<MailboxLocation> {
            ASSIGN_OR_RETURN(std::string in,
                             h.domain->SpecialLvPath(block::SpecialLv::kInbox));
            ASSIGN_OR_RETURN(std::string out, h.domain->SpecialLvPath(
                                                  block::SpecialLv::kOutbox));
            return MailboxLocation{in, out, host_id};
          }},
      options);
  REQUIRE(h.service->Start().ok());
}

}  // namespace sanpool::spm
