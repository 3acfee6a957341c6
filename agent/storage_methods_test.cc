// The storage verbs end to end below the transport: a real file domain in a
// temp dir, the real qemu-img, the real registry, tasks and role fake.
#include "agent/storage_methods.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <catch2/catch.hpp>
#include <filesystem>

#include "agent/storage_test_fixture.h"
#include "domains/file/file_test_util.h"
#include "domains/storage_errors.h"
#include "spm/fake_role.h"

namespace sanpool::agent {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using file_domain::testing::kImg;
using file_domain::testing::kImg2;
using file_domain::testing::kSd;
using file_domain::testing::kVol1;
using file_domain::testing::kVol2;
using file_domain::testing::kVol3;
using file_domain::testing::SnapshotTree;
using testing::kRemote;
using testing::StorageFixture;

TEST_CASE("a domain is created in its connection's mount dir and described") {
  StorageFixture f;
  f.CreateDomain();
  CHECK(fs::exists(f.DomainDir() + "/dom_md/metadata"));
  auto info = f.Call("StorageDomain.getInfo", {{"storagedomainID", kSd}});
  REQUIRE(info.ok());
  CHECK(info->at("type") == "NFS");
  CHECK(info->at("class") == "Data");
  CHECK(info->at("name") == "methods");
  CHECK(info->at("version") == "5");
  CHECK(info->at("remotePath") == kRemote);
  auto stats = f.Call("StorageDomain.getStats", {{"storagedomainID", kSd}});
  REQUIRE(stats.ok());
  CHECK(stats->at("disktotal").is_string());
  CHECK(f.Call("StorageDomain.validate", {{"storagedomainID", kSd}}).ok());
  CHECK(f.Call("StorageDomain.getImages", {{"storagedomainID", kSd}})
            ->as_array()
            .empty());
  auto again = f.Call("StorageDomain.create",
                      {{"storagedomainID", kSd}, {"domainType", "NFS"},
                       {"typeArgs", {{"remotePath", kRemote}}},
                       {"name", "x"}, {"domainClass", "Data"}});
  CHECK(again.status().storage_code() ==
        storage_code::kStorageDomainAlreadyExists);
}

TEST_CASE("volumes, snapshots and template children through the verbs") {
  StorageFixture f;
  f.CreateDomain();
  std::string base = f.StartCreate(kImg, kVol1, "1048576");
  CHECK(f.Wait(base).at("taskResult") == "success");
  std::string snap = f.StartCreate(kImg, kVol2, 1048576, "COW", kImg, kVol1);
  CHECK(f.WaitCode(snap) == 0);

  auto vols = f.Call("StorageDomain.getVolumes",
                     {{"storagedomainID", kSd}, {"imageID", kImg}});
  REQUIRE(vols.ok());
  CHECK(*vols == json::array{kVol1, kVol2});
  auto info = f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol2));
  REQUIRE(info.ok());
  CHECK(info->at("format") == "COW");
  CHECK(info->at("voltype") == "LEAF");
  CHECK(info->at("parent") == kVol1);
  CHECK(info->at("capacity") == "1048576");
  CHECK(info->at("status") == "OK");
  auto parent = f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1));
  CHECK(parent->at("voltype") == "INTERNAL");
  CHECK(parent->at("children") == json::array{kVol2});

  // A child of a volume in another image needs a template parent.
  std::string bad_child = f.StartCreate(kImg2, kVol3, 1048576, 4, kImg, kVol2);
  CHECK(f.Wait(bad_child).at("taskResult") == "cleanSuccess");
  CHECK_FALSE(fs::exists(f.DomainDir() + "/images/" + kImg2));

  auto qinfo = f.Call("Volume.getQemuImageInfo", f.VolumeParams(kImg, kVol2));
  REQUIRE(qinfo.ok());
  CHECK(qinfo->at("format") == "qcow2");
  CHECK(qinfo->at("backingfile") == kVol1);
  json::object mp = f.VolumeParams(kImg, kVol1);
  mp["dest_format"] = 4;
  CHECK(f.Call("Volume.measure", mp).ok());
  CHECK(f.Call("Volume.getSize", f.VolumeParams(kImg, kVol1))
            ->at("apparentsize") == "1048576");
}

TEST_CASE("prepare returns a readable chain with leases; teardown undoes it") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576")) == 0);
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol2, "1048576", 4, kImg, kVol1)) == 0);
  auto prepared = f.Call("Image.prepare", f.VolumeParams(kImg, kVol2));
  REQUIRE(prepared.ok());
  std::string path(prepared->at("path").as_string());
  auto chain = f.qemu_img_.InfoChain(path, formats::VolumeFormat::kCow);
  REQUIRE(chain.ok());
  CHECK(chain->size() == 2);
  const json::array& vols = prepared->at("imgVolumesInfo").as_array();
  REQUIRE(vols.size() == 2);
  CHECK(vols[0].at("volumeID") == kVol2);
  CHECK(vols[1].at("leasePath").as_string().ends_with(".lease"));
  CHECK(vols[1].at("leaseOffset") == 0);
  REQUIRE(f.Call("Image.teardown",
                 {{"storagedomainID", kSd}, {"imageID", kImg}}).ok());
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("delete refuses a volume with children; Image.delete removes all") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576")) == 0);
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol2, "1048576", 4, kImg, kVol1)) == 0);
  auto del = f.Call("Volume.delete", f.VolumeParams(kImg, kVol1));
  REQUIRE(del.ok());
  CHECK(f.WaitCode(std::string(del->as_string())) ==
        storage_code::kVolumeImageHasChildren);
  auto top = f.Call("Volume.delete", f.VolumeParams(kImg, kVol2));
  CHECK(f.WaitCode(std::string(top->as_string())) == 0);
  CHECK(f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1))
            ->at("voltype") == "LEAF");

  auto img = f.Call("Image.delete", {{"storagedomainID", kSd},
                                     {"imageID", kImg},
                                     {"postZero", "false"}});
  REQUIRE(img.ok());
  CHECK(f.WaitCode(std::string(img->as_string())) == 0);
  CHECK(f.Call("StorageDomain.getImages", {{"storagedomainID", kSd}})
            ->as_array()
            .empty());
  auto gone = f.Call("Image.delete", {{"storagedomainID", kSd},
                                      {"imageID", kImg}});
  CHECK(f.WaitCode(std::string(gone->as_string())) ==
        storage_code::kImageDoesNotExistInSd);
}

TEST_CASE("bad sizes fail the call itself and leave nothing behind") {
  StorageFixture f;
  f.CreateDomain();
  auto before = SnapshotTree(f.DomainDir());
  struct Case {
    json::value size;
    int code;
  };
  for (const Case& c : std::vector<Case>{
           {"0", storage_code::kCreateVolumeSizeError},
           {0, storage_code::kCreateVolumeSizeError},
           {"-512", storage_code::kCreateVolumeSizeError},
           {"1000", storage_code::kInvalidParameter},
           {"9223372036854775296", storage_code::kInvalidParameter},
           {"99999999999999999999", storage_code::kInvalidParameter},
           {json::value(uint64_t{1} << 63), storage_code::kInvalidParameter},
           {"1e6", storage_code::kInvalidParameter},
           {1.5, storage_code::kInvalidParameter}}) {
    json::object p = f.VolumeParams(kImg, kVol1);
    p["size"] = c.size;
    p["volFormat"] = 5;
    p["preallocate"] = 2;
    auto r = f.Call("Volume.create", p);
    INFO(json::serialize(c.size));
    CHECK(r.status().storage_code() == c.code);
  }
  CHECK(f.tasks_.List().empty());
  CHECK(SnapshotTree(f.DomainDir()) == before);
}

TEST_CASE("ids that are not canonical UUIDs never reach a handler") {
  StorageFixture f;
  f.CreateDomain();
  for (const char* bad : {"..", "../../etc", "1a2b3c4d-0000-4000-8000-0000000000a1/..",
                          "1A2B3C4D00004000800000000000000A1"}) {
    json::object p = f.VolumeParams(kImg, bad);
    p["size"] = "1048576";
    p["volFormat"] = 5;
    p["preallocate"] = 2;
    CHECK(f.Call("Volume.create", p).status().code() == Code::kInvalidArgument);
    CHECK(f.Call("Volume.getInfo", f.VolumeParams(bad, kVol1)).status().code() ==
          Code::kInvalidArgument);
  }
  json::object p = f.VolumeParams(kImg, kVol1);
  p["size"] = "1048576";
  p["volFormat"] = 5;
  p["preallocate"] = 2;
  p["srcVolUUID"] = "../x";
  CHECK(f.Call("Volume.create", p).status().code() == Code::kInvalidArgument);
  CHECK(f.tasks_.List().empty());
}

TEST_CASE("metadata-changing verbs need the SPM role; reads do not") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576")) == 0);
  f.role_.set_spm(false);
  auto before = SnapshotTree(f.DomainDir());
  json::object create = f.VolumeParams(kImg, kVol2);
  create["size"] = "1048576";
  create["volFormat"] = 5;
  create["preallocate"] = 2;
  json::object extend = f.VolumeParams(kImg, kVol1);
  extend["newSize"] = "2097152";
  json::object desc = f.VolumeParams(kImg, kVol1);
  desc["description"] = "x";
  json::object legal = f.VolumeParams(kImg, kVol1);
  legal["legality"] = "ILLEGAL";
  for (auto& [verb, params] : std::vector<std::pair<std::string, json::object>>{
           {"Volume.create", create},
           {"Volume.extendSize", extend},
           {"Volume.delete", f.VolumeParams(kImg, kVol1)},
           {"Volume.setDescription", desc},
           {"Volume.setLegality", legal},
           {"Image.delete", {{"storagedomainID", kSd}, {"imageID", kImg}}},
           {"Host.getAllTasksStatuses", {}}}) {
    INFO(verb);
    CHECK(f.Call(verb, params).status().storage_code() ==
          storage_code::kSpmStatusError);
  }
  CHECK(SnapshotTree(f.DomainDir()) == before);
  CHECK(f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1)).ok());
  CHECK(f.Call("Image.prepare", f.VolumeParams(kImg, kVol1)).ok());
}

TEST_CASE("sync setters and extend change the volume") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576", 4)) == 0);
  json::object desc = f.VolumeParams(kImg, kVol1);
  desc["description"] = "renamed";
  REQUIRE(f.Call("Volume.setDescription", desc).ok());
  json::object extend = f.VolumeParams(kImg, kVol1);
  extend["newSize"] = 2097152;
  auto task = f.Call("Volume.extendSize", extend);
  REQUIRE(task.ok());
  CHECK(f.WaitCode(std::string(task->as_string())) == 0);
  json::object legal = f.VolumeParams(kImg, kVol1);
  legal["legality"] = "ILLEGAL";
  REQUIRE(f.Call("Volume.setLegality", legal).ok());
  auto info = f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1));
  CHECK(info->at("description") == "renamed");
  CHECK(info->at("capacity") == "2097152");
  CHECK(info->at("legality") == "ILLEGAL");
  CHECK(f.Call("Image.prepare", f.VolumeParams(kImg, kVol1)).status()
            .storage_code() == storage_code::kPrepareIllegalVolume);
}

TEST_CASE("task verbs: status, info, stop, clear, all tasks, notifications") {
  StorageFixture f;
  f.CreateDomain();
  std::vector<std::string> events;
  Mutex events_mu;
  auto sub = f.hub_.Subscribe([&](const std::string& text) {
    MutexLock lock(events_mu);
    events.push_back(text);
  });
  std::string id = f.StartCreate(kImg, kVol1, "1048576");
  json::object status = f.Wait(id);
  CHECK(status.at("taskState") == "finished");
  CHECK(status.at("message") == "1 jobs completed successfully");
  auto info = f.Call("Task.getInfo", {{"taskID", id}});
  CHECK(info->at("verb") == "Volume.create");
  CHECK(info->at("tags") == json::array{"spm"});
  auto all = f.Call("Host.getAllTasksStatuses", {});
  CHECK(all->as_object().contains(id));
  CHECK(f.Call("Host.getAllTasksInfo", {})->as_object().contains(id));
  CHECK(f.Call("Task.stop", {{"taskID", id}}).status().storage_code() ==
        spm::kTaskStateErrorCode);
  REQUIRE(f.Call("Task.clear", {{"taskID", id}}).ok());
  CHECK(f.Call("Task.getStatus", {{"taskID", id}}).status().storage_code() ==
        spm::kUnknownTaskCode);
  sub.Reset();
  MutexLock lock(events_mu);
  REQUIRE(events.size() == 3);  // queued, running, finished
  CHECK(events[0].find("\"method\":\"Task.stateChanged\"") != std::string::npos);
  CHECK(events[2].find("\"taskResult\":\"success\"") != std::string::npos);
  CHECK(events[2].find(id) != std::string::npos);
}

TEST_CASE("verbs on an unknown domain report 358") {
  StorageFixture f;
  auto r = f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1));
  CHECK(r.status().storage_code() == storage_code::kStorageDomainDoesNotExist);
  json::object p = f.VolumeParams(kImg, kVol1);
  p["size"] = "1048576";
  p["volFormat"] = 5;
  p["preallocate"] = 2;
  CHECK(f.Call("Volume.create", p).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
  CHECK(f.Call("Image.copy", {{"storagedomainID", kSd}, {"imageID", kImg},
                              {"dstSdUUID", kSd}, {"dstImgUUID", kImg2}})
            .status()
            .storage_code() == storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("Image.copy copies a chain into another image as a task") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576")) == 0);
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol2, "1048576", 4, kImg, kVol1)) == 0);
  json::object p = {{"storagedomainID", kSd}, {"imageID", kImg},
                    {"dstSdUUID", kSd}, {"dstImgUUID", kImg2}};
  f.role_.set_spm(false);
  CHECK(f.Call("Image.copy", p).status().storage_code() ==
        storage_code::kSpmStatusError);
  f.role_.set_spm(true);
  auto task = f.Call("Image.copy", p);
  REQUIRE(task.ok());
  json::object status = f.Wait(std::string(task->as_string()));
  CHECK(status.at("code") == 0);
  CHECK(status.at("progress") == 100);
  auto vols = f.Call("StorageDomain.getVolumes",
                     {{"storagedomainID", kSd}, {"imageID", kImg2}});
  CHECK(*vols == json::array{kVol1, kVol2});
  CHECK(f.Call("Volume.getInfo", f.VolumeParams(kImg2, kVol2))
            ->at("legality") == "LEGAL");

  json::object collapse = {{"storagedomainID", kSd}, {"imageID", kImg},
                           {"dstSdUUID", kSd}, {"dstImgUUID", kImg2},
                           {"collapse", true}};
  CHECK(f.Call("Image.copy", collapse).status().storage_code() ==
        storage_code::kInvalidParameter);  // dstVolUUID missing
}

// Issue 5: the SPM check names the domain (spm/role.h RequireSpmOf).
TEST_CASE("SPM verbs write only the domains of this host's pool") {
  StorageFixture f;
  f.CreateDomain();
  REQUIRE(f.WaitCode(f.StartCreate(kImg, kVol1, "1048576")) == 0);
  constexpr char kPoolX[] = "5a5a5a5a-0000-4000-8000-00000000000a";
  constexpr char kPoolY[] = "5a5a5a5a-0000-4000-8000-00000000000b";
  auto set_domain_pool = [&](const char* pool) {
    auto d = f.domains_.Get(kSd);
    REQUIRE(d.ok());
    auto md = (*d)->domain->ReadMetadata();
    REQUIRE(md.ok());
    md->pool_uuids.clear();
    if (pool[0] != 0) md->pool_uuids.push_back(pool);
    REQUIRE((*d)->domain->WriteMetadata(*md).ok());
  };
  auto describe = [&]() {
    json::object p = f.VolumeParams(kImg, kVol1);
    p["description"] = "d";
    Result<json::value> r = f.Call("Volume.setDescription", p);
    return r.ok() ? 0 : r.status().storage_code();
  };
  auto create = [&]() {
    json::object p = f.VolumeParams(kImg, kVol2);
    p["size"] = "1048576";
    p["volFormat"] = 5;
    p["preallocate"] = 2;
    Result<json::value> r = f.Call("Volume.create", p);
    return r.ok() ? 0 : r.status().storage_code();
  };
  auto del = [&]() {
    Result<json::value> r = f.Call("Volume.delete", f.VolumeParams(kImg, kVol2));
    return r.ok() ? 0 : r.status().storage_code();
  };

  SECTION("no pool on either side: the standalone writer") {
    CHECK(describe() == 0);
  }
  SECTION("a standalone host and a domain of a pool: 654") {
    set_domain_pool(kPoolX);
    CHECK(describe() == storage_code::kSpmStatusError);
    CHECK(create() == storage_code::kSpmStatusError);
    CHECK(del() == storage_code::kSpmStatusError);
  }
  SECTION("the SPM of pool X and a domain of pool X") {
    set_domain_pool(kPoolX);
    f.role_.set_pool(kPoolX);
    CHECK(describe() == 0);
  }
  SECTION("the SPM of pool X and a domain of pool Y: 353") {
    set_domain_pool(kPoolY);
    f.role_.set_pool(kPoolX);
    CHECK(describe() == spm::pool_code::kStorageDomainNotInPool);
    CHECK(create() == spm::pool_code::kStorageDomainNotInPool);
    CHECK(del() == spm::pool_code::kStorageDomainNotInPool);
  }
  SECTION("the SPM of pool X and a domain in no pool: 353") {
    f.role_.set_pool(kPoolX);
    CHECK(describe() == spm::pool_code::kStorageDomainNotInPool);
    CHECK(f.Call("Image.delete", {{"storagedomainID", kSd}, {"imageID", kImg}})
              .status()
              .storage_code() == spm::pool_code::kStorageDomainNotInPool);
  }
  SECTION("a pool member that is not SPM: 654 before the domain is read") {
    set_domain_pool(kPoolX);
    f.role_.set_pool(kPoolX);
    f.role_.set_spm(false);
    CHECK(describe() == storage_code::kSpmStatusError);
  }
  // Reads are not gated.
  CHECK(f.Call("Volume.getInfo", f.VolumeParams(kImg, kVol1)).ok());
}

}  // namespace
}  // namespace sanpool::agent
