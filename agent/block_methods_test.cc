// Tests of the block dispatch in front of the storage verbs: routing by
// domain kind, the new verbs' input checks. Real lvm2 and a dm daemon are in
// test/block_agent_system_test.py.
#include "agent/block_methods.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <catch2/catch.hpp>
#include <set>

#include "base/env.h"
#include "base/fake_clock.h"
#include "base/fake_process.h"
#include "domains/block/activation.h"
#include "domains/block/block_layout.h"
#include "domains/block/block_metadata.h"
#include "domains/block/lvm.h"
#include "domains/dm/fake_device_mapper.h"
#include "domains/file/file_test_util.h"
#include "domains/storage_errors.h"
#include "spm/fake_role.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

constexpr char kSd[] = "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e5f";
constexpr char kVgNotFound[] =
    "  Volume group \"6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e5f\" not found\n";

constexpr char kVgUuid[] = "5o1RgC-BKKZ-qzn5-pSf5-QDs8-a0vY-wKXWAY";

// `vgs` output for VG kSd: a block domain in `pool` ("" none).
std::string DomainVgsJson(const std::string& pool) {
  block::BlockDomainMetadata md;
  md.common.sd_uuid = kSd;
  md.common.type = DomainType::kIscsi;
  md.common.description = "blk";
  if (!pool.empty()) md.common.pool_uuids = {pool};
  md.vg_uuid = kVgUuid;
  md.pvs[0] = {.guid = "loop90", .pv_uuid = "pv0uuid", .pe_count = 80};
  auto tags = block::EncodeDomainMetadataTags(md);
  REQUIRE(tags.ok());
  std::string joined(block::kDomainVgTag);
  for (const std::string& tag : *tags) joined += "," + tag;
  return R"({"report": [{"vg": [{"vg_uuid":")" + std::string(kVgUuid) +
         R"(", "vg_name":")" + kSd +
         R"(", "vg_attr":"wz--n-", "vg_size":"10737418240", "vg_free":"1073741824", "vg_extent_size":"134217728", "vg_extent_count":"80", "vg_free_count":"8", "vg_tags":")" +
         joined +
         R"(", "vg_mda_size":"134217728", "vg_mda_free":"67105280", "lv_count":"7", "pv_count":"1", "pv_name":"/dev/loop90"}]}]})";
}

struct Fixture {
  // Without `block_domain_pool` every lvm report says "no such VG"; with it
  // VG kSd is a block domain in that pool ("" none).
  explicit Fixture(std::optional<std::string> block_domain_pool = {}) {
    if (block_domain_pool) {
      runner.Expect({"lvm", "vgs"},
                    {.stdout_data = DomainVgsJson(*block_domain_pool)},
                    FakeProcessRunner::Match::kPrefix);
    }
    runner.Expect({"lvm", "vgs"}, {.exit_code = 5, .stderr_data = kVgNotFound},
                  FakeProcessRunner::Match::kPrefix);
    cache.SetDevices({"/dev/loop90", "/dev/loop91"});
  }

  Result<json::value> Call(const MethodRegistry& registry,
                           const std::string& name, const json::object& p) {
    const MethodSpec* spec = registry.Find(name);
    REQUIRE(spec != nullptr);
    return spec->handler(p, CallContext{});
  }

  FakeClock clock;
  FakeProcessRunner runner;
  lvm::Lvm lvm{runner, {}};
  lvm::LvmCache cache{lvm, {}};
  dm::FakeDeviceMapper dm;
  block::Activator activator{cache, dm};
  std::unique_ptr<Env> env = NewPosixEnv();
  QemuImg qemu_img{runner};
  ResourceManager locks{clock};
  BlockDomainRegistry domains{
      BlockRegistryDeps{.env = env.get(),
                        .clock = &clock,
                        .qemu_img = &qemu_img,
                        .runner = &runner,
                        .lock_manager = &locks,
                        .lvm = &cache,
                        .activator = &activator},
      BlockRegistryOptions{.run_dir = "/nonexistent/run"}};
  StorageServices storage;  // no file registry: file verbs answer 'unavailable'
  BlockServices block{.domains = &domains, .lvm = &cache};
};

TEST_CASE("block verbs are the file verbs plus three", "[block_methods]") {
  Fixture f;
  MethodRegistry file;
  REQUIRE(RegisterStorageMethods(file, &f.storage).ok());
  MethodRegistry both;
  REQUIRE(RegisterStorageMethodsWithBlock(both, &f.storage, &f.block).ok());
  std::vector<std::string> expected = file.MethodNames();
  expected.push_back("LVMVolumeGroup.create");
  expected.push_back("LVMVolumeGroup.getInfo");
  expected.push_back("StorageDomain.extend");
  std::sort(expected.begin(), expected.end());
  CHECK(both.MethodNames() == expected);
  // Same params as the file verbs.
  CHECK(both.Find("Volume.delete")->params.size() ==
        file.Find("Volume.delete")->params.size());
}

TEST_CASE("LVMVolumeGroup.create refuses devices outside lvm.devices",
          "[block_methods]") {
  Fixture f;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
  json::object p{{"name", kSd},
                 {"devlist", json::array{"/dev/loop90", "/dev/sdz"}}};
  auto result = f.Call(r, "LVMVolumeGroup.create", p);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kInvalidArgument);
  CHECK(result.status().storage_code() == storage_code::kInvalidParameter);
  CHECK(f.runner.Calls().empty());  // nothing ran on any device

  json::object empty{{"name", kSd}, {"devlist", json::array{}}};
  CHECK(f.Call(r, "LVMVolumeGroup.create", empty).status().storage_code() ==
        storage_code::kInvalidParameter);
}

TEST_CASE("block StorageDomain.create needs the VG", "[block_methods]") {
  Fixture f;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
  json::object p{{"storagedomainID", kSd}, {"domainType", 3},
                 {"typeArgs", kSd},         {"name", "blk"},
                 {"domainClass", 1}};
  auto result = f.Call(r, "StorageDomain.create", p);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().storage_code() == 506);
  CHECK(f.Call(r, "LVMVolumeGroup.getInfo", {{"vgUUID", kSd}})
            .status()
            .storage_code() == 506);
}

TEST_CASE("an id that is no VG goes to the file verbs", "[block_methods]") {
  Fixture f;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
  // The file handler answers: its registry is not set.
  auto result = f.Call(r, "StorageDomain.getInfo", {{"storagedomainID", kSd}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().code() == Code::kUnavailable);
  // A file domain type never reaches lvm.
  size_t before = f.runner.Calls().size();
  json::object nfs{{"storagedomainID", kSd}, {"domainType", 1},
                   {"typeArgs", "srv:/exp"}, {"name", "nfs"},
                   {"domainClass", 1}};
  CHECK(f.Call(r, "StorageDomain.create", nfs).status().code() ==
        Code::kUnavailable);
  CHECK(f.runner.Calls().size() == before);
}

TEST_CASE("without block services the new verbs are unavailable",
          "[block_methods]") {
  Fixture f;
  BlockServices none;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &none).ok());
  json::object p{{"name", kSd}, {"devlist", "/dev/loop90"}};
  CHECK(f.Call(r, "LVMVolumeGroup.create", p).status().code() ==
        Code::kUnavailable);
  CHECK(f.runner.Calls().empty());
}

size_t VgsRuns(const FakeProcessRunner& runner) {
  size_t n = 0;
  for (const auto& argv : runner.CallArgvs()) {
    if (argv.size() > 1 && argv[1] == "vgs") ++n;
  }
  return n;
}

// Issue 4: with lvm.devices set, a file-domain call must not cost a `vgs`
// each time (the negative cache of BlockDomainRegistry::IsBlockDomain).
TEST_CASE("file-domain calls run lvm once per UUID and age",
          "[block_methods]") {
  Fixture f;
  file_domain::testing::ScratchDir scratch;
  ResourceManager file_locks{f.clock};
  DomainRegistry files(
      DomainRegistryDeps{.env = f.env.get(),
                         .clock = &f.clock,
                         .qemu_img = &f.qemu_img,
                         .lock_manager = &file_locks},
      DomainRegistryOptions{.repository = scratch.path() + "/repo",
                            .run_dir = scratch.path() + "/run"});
  std::filesystem::create_directories(scratch.path() + "/repo/mnt/srv:_exp");
  f.storage.domains = &files;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
  REQUIRE(f.Call(r, "StorageDomain.create",
                 {{"storagedomainID", kSd}, {"domainType", 1},
                  {"typeArgs", "srv:/exp"}, {"name", "nfs"},
                  {"domainClass", 1}})
              .ok());
  CHECK(VgsRuns(f.runner) == 0);  // a file type never asks lvm

  const json::object sd{{"storagedomainID", kSd}};
  REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
  CHECK(VgsRuns(f.runner) == 1);  // the first call asks once
  for (int i = 0; i < 5; ++i) {
    REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
    REQUIRE(f.Call(r, "StorageDomain.getImages", sd).ok());
  }
  CHECK(VgsRuns(f.runner) == 1);  // then never within the age bound

  f.clock.Advance(std::chrono::seconds(31));  // not_vg_ttl is 30 s
  REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
  CHECK(VgsRuns(f.runner) == 2);
  REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
  CHECK(VgsRuns(f.runner) == 2);

  // An explicit refresh forgets the answer.
  f.domains.ForgetMissingVgs();
  REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
  CHECK(VgsRuns(f.runner) == 3);

  // A UUID neither side knows: the file side says 358, then lvm is asked
  // afresh (it may be a VG another host just made), once per call.
  constexpr char kOther[] = "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e60";
  auto unknown = f.Call(r, "StorageDomain.getInfo", {{"storagedomainID", kOther}});
  CHECK(unknown.status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
  CHECK(VgsRuns(f.runner) == 5);
  // The file domain still costs nothing.
  REQUIRE(f.Call(r, "StorageDomain.getInfo", sd).ok());
  CHECK(VgsRuns(f.runner) == 5);
}

TEST_CASE("the negative VG cache is forgotten by LVMVolumeGroup.create",
          "[block_methods]") {
  Fixture f;
  MethodRegistry r;
  REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
  CHECK_FALSE(f.domains.IsBlockDomain(kSd));
  CHECK_FALSE(f.domains.IsBlockDomain(kSd));
  CHECK(VgsRuns(f.runner) == 1);
  // Refused by lvm later (the fake has no pvs answer), but it was asked
  // to make this VG: the cached "no" is gone.
  (void)f.Call(r, "LVMVolumeGroup.create",
               {{"name", kSd}, {"devlist", json::array{"/dev/loop90"}}});
  size_t before = VgsRuns(f.runner);
  CHECK_FALSE(f.domains.IsBlockDomain(kSd));
  CHECK(VgsRuns(f.runner) == before + 1);
  // kFresh always asks.
  CHECK_FALSE(f.domains.IsBlockDomain(kSd, VgLookup::kFresh));
  CHECK(VgsRuns(f.runner) == before + 2);
}

// Issue 5: the block dispatch checks the domain's pool (VG tags) too.
int SetDescriptionCode(Fixture& f, MethodRegistry& r) {
  json::object p{{"storagedomainID", kSd},
                 {"imageID", "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e61"},
                 {"volumeID", "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e62"},
                 {"description", "d"}};
  auto result = f.Call(r, "Volume.setDescription", p);
  REQUIRE_FALSE(result.ok());  // no lvs answer: never a success here
  return result.status().storage_code();
}

bool RanLvs(const FakeProcessRunner& runner) {
  for (const auto& argv : runner.CallArgvs()) {
    if (argv.size() > 1 && argv[1] == "lvs") return true;
  }
  return false;
}

TEST_CASE("block SPM verbs write only the domains of this host's pool",
          "[block_methods]") {
  constexpr char kPoolX[] = "5a5a5a5a-0000-4000-8000-00000000000a";
  constexpr char kPoolY[] = "5a5a5a5a-0000-4000-8000-00000000000b";
  spm::FakeSpmRole role(true);
  MethodRegistry r;

  SECTION("standalone host, domain in no pool: allowed") {
    Fixture f("");
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    int code = SetDescriptionCode(f, r);
    CHECK(code != storage_code::kSpmStatusError);
    CHECK(code != spm::pool_code::kStorageDomainNotInPool);
    CHECK(RanLvs(f.runner));  // went on to look for the volume
  }
  SECTION("standalone host, domain of a pool: 654") {
    Fixture f(kPoolX);
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    CHECK(SetDescriptionCode(f, r) == storage_code::kSpmStatusError);
    CHECK_FALSE(RanLvs(f.runner));
    CHECK(f.Call(r, "StorageDomain.extend",
                 {{"storagedomainID", kSd}, {"devlist", "/dev/loop91"}})
              .status()
              .storage_code() == storage_code::kSpmStatusError);
  }
  SECTION("SPM of pool X, domain of pool X: allowed") {
    Fixture f(kPoolX);
    role.set_pool(kPoolX);
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    int code = SetDescriptionCode(f, r);
    CHECK(code != storage_code::kSpmStatusError);
    CHECK(code != spm::pool_code::kStorageDomainNotInPool);
    CHECK(RanLvs(f.runner));
  }
  SECTION("SPM of pool X, domain of pool Y: 353") {
    Fixture f(kPoolY);
    role.set_pool(kPoolX);
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    CHECK(SetDescriptionCode(f, r) == spm::pool_code::kStorageDomainNotInPool);
    CHECK(f.Call(r, "Image.delete",
                 {{"storagedomainID", kSd},
                  {"imageID", "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e61"}})
              .status()
              .storage_code() == spm::pool_code::kStorageDomainNotInPool);
    CHECK_FALSE(RanLvs(f.runner));
  }
  SECTION("SPM of pool X, domain in no pool: 353") {
    Fixture f("");
    role.set_pool(kPoolX);
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    CHECK(SetDescriptionCode(f, r) == spm::pool_code::kStorageDomainNotInPool);
  }
  SECTION("not SPM: 654 before lvm is asked about the domain") {
    Fixture f(kPoolX);
    role.set_pool(kPoolX);
    role.set_spm(false);
    f.storage.role = &role;
    REQUIRE(RegisterStorageMethodsWithBlock(r, &f.storage, &f.block).ok());
    size_t before = VgsRuns(f.runner);
    CHECK(SetDescriptionCode(f, r) == storage_code::kSpmStatusError);
    CHECK(VgsRuns(f.runner) == before + 1);  // only the dispatch's lookup
  }
}

}  // namespace
}  // namespace sanpool::agent
