// The pool verbs over a StoragePool and Spm on FakeSanlock + FakeClock:
// parameter handling, the wire shapes, and 654 / 309 at the boundary.
#include "agent/pool_methods.h"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "agent/json_params.h"
#include "spm/pool_errors.h"
#include "spm/pool_test_util.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
using spm::testing::kData;
using spm::testing::kMaster;
using spm::testing::kPool;

struct Fixture {
  Fixture() {
    services = {.pool = &host.pool, .spm = &host.spm, .tasks = &host.tasks};
    REQUIRE(RegisterPoolMethods(registry, &services).ok());
    host.CreateDomain(kMaster);
  }
  Result<json::value> Call(const std::string& method, json::object params) {
    const MethodSpec* spec = registry.Find(method);
    REQUIRE(spec != nullptr);
    RETURN_IF_ERROR(ValidateParams(spec->params, params, spec->extra_params));
    return spec->handler(params, CallContext{.peer = "test", .transport = "test"});
  }
  void CreateAndConnect() {
    REQUIRE(Call("StoragePool.create",
                 {{"storagepoolID", kPool}, {"name", "dc1"},
                  {"masterSdUUID", kMaster}, {"masterVersion", "1"},
                  {"domainList", kMaster}})
                .ok());
    REQUIRE(Call("StoragePool.connect",
                 {{"storagepoolID", kPool}, {"hostID", "3"},
                  {"masterSdUUID", kMaster}, {"masterVersion", 1}})
                .ok());
  }

  spm::testing::World world;
  spm::testing::PoolHost host{world, "a", {.auto_contend = false}};
  MethodRegistry registry;
  PoolServices services;
};

TEST_CASE("pool verbs: create, connect, spmStart task, getSpmStatus, getInfo") {
  Fixture f;
  auto before = f.Call("StoragePool.getSpmStatus", {{"storagepoolID", kPool}});
  CHECK(before.status().storage_code() == spm::pool_code::kStoragePoolUnknown);
  f.CreateAndConnect();
  f.host.Join();

  auto task = f.Call("StoragePool.spmStart",
                     {{"storagepoolID", kPool}, {"prevID", -1},
                      {"prevLver", "-1"}});
  REQUIRE(task.ok());
  REQUIRE(task->is_string());
  std::string id(task->as_string());
  // The start job runs on the task pool (no fake-clock waits in it).
  while (f.host.tasks.Get(id)->state != spm::TaskState::kFinished) {
    std::this_thread::yield();
  }
  CHECK(f.host.tasks.Get(id)->code == 0);

  auto status = f.Call("StoragePool.getSpmStatus", {{"storagepoolID", kPool}});
  REQUIRE(status.ok());
  CHECK(*status == json::parse(
                       R"({"spmStatus":"SPM","spmLver":1,"spmId":3})"));
  auto again = f.Call("StoragePool.spmStart",
                      {{"storagepoolID", kPool}, {"prevID", -1},
                       {"prevLver", -1}});
  CHECK(again.status().storage_code() == spm::pool_code::kIsSpm);

  auto info = f.Call("StoragePool.getInfo", {{"storagepoolID", kPool}});
  REQUIRE(info.ok());
  const json::object& i = info->at("info").as_object();
  CHECK(i.at("name") == "dc1");
  CHECK(i.at("master_uuid") == kMaster);
  CHECK(i.at("spm_id") == 3);
  CHECK(i.at("domains").as_string() == std::string(kMaster) + ":Active");
  CHECK(i.at("pool_status") == "connected");
  const json::object& d = info->at("dominfo").at(kMaster).as_object();
  CHECK(d.at("status") == "Active");
  CHECK(d.at("alerts").as_array().empty());

  auto refused = f.Call("StoragePool.disconnect", {{"storagepoolID", kPool}});
  CHECK(refused.status().storage_code() ==
        spm::pool_code::kStoragePoolActionError);
  CHECK(f.Call("StoragePool.disconnect",
               {{"storagepoolID", kPool}, {"force", true}})
            .ok());
}

TEST_CASE("pool verbs: bad numbers and domain verbs as non-SPM") {
  Fixture f;
  auto bad = f.Call("StoragePool.connect",
                    {{"storagepoolID", kPool}, {"hostID", "x"},
                     {"masterSdUUID", kMaster}, {"masterVersion", 1}});
  CHECK(bad.status().code() == Code::kInvalidArgument);
  f.CreateAndConnect();
  f.host.CreateDomain(kData);
  auto attach = f.Call("StorageDomain.attach",
                       {{"storagedomainID", kData}, {"storagepoolID", kPool}});
  CHECK(attach.status().storage_code() == 654);
}

}  // namespace
}  // namespace sanpool::agent
