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
#include "domains/block/lvm.h"
#include "domains/dm/fake_device_mapper.h"
#include "domains/storage_errors.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;

constexpr char kSd[] = "6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e5f";
constexpr char kVgNotFound[] =
    "  Volume group \"6f9f8a1e-3b2a-4c61-9d55-0a1b2c3d4e5f\" not found\n";

struct Fixture {
  Fixture() {
    // Every lvm report says "no such VG".
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

}  // namespace
}  // namespace sanpool::agent
