#include "spm/local_state.h"

#include <catch2/catch.hpp>

#include "domains/file/file_test_util.h"
#include "spm/pool_metadata.h"

namespace sanpool::spm {
namespace {

const LocalState kState{"5a5a5a5a-0000-4000-8000-000000000001", 3,
                        "5a5a5a5a-0000-4000-8000-0000000000d1", 2};

TEST_CASE("local state golden text and round trip") {
  CHECK(EncodeLocalState(kState) ==
        "VERSION=2\n"
        "POOL_UUID=5a5a5a5a-0000-4000-8000-000000000001\n"
        "HOST_ID=3\n"
        "MASTER_SD=5a5a5a5a-0000-4000-8000-0000000000d1\n"
        "MASTER_VERSION=2\n");
  auto back = DecodeLocalState(EncodeLocalState(kState) + "LATER_KEY=x\n");
  REQUIRE(back.ok());
  CHECK(*back == kState);
}

TEST_CASE("damaged local state is reported") {
  std::string text = EncodeLocalState(kState);
  CHECK(DecodeLocalState(text.substr(0, text.find("HOST_ID"))).status().code() ==
        Code::kDataLoss);
  std::string bad_id = text;
  bad_id.replace(bad_id.find("HOST_ID=3"), 9, "HOST_ID=0");
  CHECK(DecodeLocalState(bad_id).status().code() == Code::kDataLoss);
  CHECK(DecodeLocalState("VERSION=3\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(DecodeLocalState("VERSION=2\n").status().code() == Code::kDataLoss);
  CHECK(DecodeLocalState("VERSION=1\n").status().code() == Code::kDataLoss);
  CHECK(DecodeLocalState("garbage").status().code() == Code::kDataLoss);
}

const SavedConnection kLocal{
    ConnectionType::kLocalFs,
    {.id = "c1", .connection = "/srv/nas dir&x=%y"}};
const SavedConnection kNfs{ConnectionType::kNfs,
                           {.id = "c2",
                            .connection = "srv:/export",
                            .mnt_options = "ro,noatime",
                            .protocol_version = "4.1",
                            .retrans = 5,
                            .timeout = 0}};

TEST_CASE("version 1 files are still read") {
  auto old = DecodeLocalStateFile(
      "VERSION=1\n"
      "POOL_UUID=5a5a5a5a-0000-4000-8000-000000000001\n"
      "HOST_ID=3\n"
      "MASTER_SD=5a5a5a5a-0000-4000-8000-0000000000d1\n"
      "MASTER_VERSION=2\n"
      "CONNECTION=type=LOCALFS&id=x&connection=/a\n");
  REQUIRE(old.ok());
  CHECK(old->pool == kState);
  CHECK(old->connections.empty());  // version 1 had none
}

TEST_CASE("connections golden text and round trip") {
  LocalStateFile file{.pool = std::nullopt, .connections = {kLocal, kNfs}};
  const std::string text = EncodeLocalStateFile(file);
  CHECK(text ==
        "VERSION=2\n"
        "CONNECTION=type=LOCALFS&id=c1&connection=/srv/nas%20dir%26x%3D%25y\n"
        "CONNECTION=type=NFS&id=c2&connection=srv:/export&"
        "mnt_options=ro,noatime&protocol_version=4.1&retrans=5&timeout=0\n");
  auto back = DecodeLocalStateFile(text);
  REQUIRE(back.ok());
  CHECK(*back == file);
  file.pool = kState;
  back = DecodeLocalStateFile(EncodeLocalStateFile(file));
  REQUIRE(back.ok());
  CHECK(*back == file);
  // Membership without connections, connections without membership.
  CHECK(DecodeLocalState(text).status().code() == Code::kDataLoss);
}

TEST_CASE("damaged connections are reported") {
  for (const char* bad : {"CONNECTION=type=ISCSX&id=a",
                          "CONNECTION=type=NFS",
                          "CONNECTION=type=NFS&id=a&connection=%4",
                          "CONNECTION=type=NFS&id=a&connection=%zz",
                          "CONNECTION=type=NFS&id=a&connection=%-1",
                          "CONNECTION=type=NFS&id=a&retrans=-1",
                          "CONNECTION=type=NFS&id=a&timeout=x",
                          "CONNECTION=type=NFS&id",
                          "POOL_UUID=5a5a5a5a-0000-4000-8000-000000000001"}) {
    INFO(bad);
    CHECK(DecodeLocalStateFile(std::string("VERSION=2\n") + bad + "\n")
              .status()
              .code() == Code::kDataLoss);
  }
}

TEST_CASE("membership and connections are updated independently") {
  file_domain::testing::ScratchDir dir;
  auto env = NewPosixEnv();
  std::string path = dir.path() + "/sub/pool.state";
  REQUIRE(UpdateSavedConnections(*env, path, {kLocal, kNfs}, {}).ok());
  CHECK(!(*LoadLocalState(*env, path)).has_value());
  REQUIRE(SaveLocalState(*env, path, kState).ok());
  auto cons = LoadSavedConnections(*env, path);
  REQUIRE(cons.ok());
  CHECK(*cons == std::vector<SavedConnection>{kLocal, kNfs});
  // Reconnecting replaces by id; disconnecting forgets.
  SavedConnection moved = kLocal;
  moved.params.connection = "/elsewhere";
  REQUIRE(UpdateSavedConnections(*env, path, {moved}, {"c2"}).ok());
  CHECK(*LoadSavedConnections(*env, path) ==
        std::vector<SavedConnection>{moved});
  REQUIRE(RemoveLocalState(*env, path).ok());  // pool disconnect
  CHECK(!(*LoadLocalState(*env, path)).has_value());
  CHECK(*LoadSavedConnections(*env, path) ==
        std::vector<SavedConnection>{moved});
  REQUIRE(UpdateSavedConnections(*env, path, {}, {"c1", "unknown"}).ok());
  CHECK(!*env->Exists(path));  // nothing left: the file goes
  // A damaged file does not block the writers: it is replaced.
  REQUIRE(env->WriteFileAtomic(path, "garbage", 0600).ok());
  CHECK(!LoadSavedConnections(*env, path).ok());
  REQUIRE(UpdateSavedConnections(*env, path, {kNfs}, {}).ok());
  CHECK(*LoadSavedConnections(*env, path) == std::vector<SavedConnection>{kNfs});
}

TEST_CASE("save, load, remove") {
  file_domain::testing::ScratchDir dir;
  auto env = NewPosixEnv();
  std::string path = dir.path() + "/sub/pool.state";
  auto none = LoadLocalState(*env, path);
  REQUIRE(none.ok());
  CHECK(!none->has_value());
  REQUIRE(SaveLocalState(*env, path, kState).ok());
  auto loaded = LoadLocalState(*env, path);
  REQUIRE(loaded.ok());
  CHECK(**loaded == kState);
  REQUIRE(RemoveLocalState(*env, path).ok());
  CHECK(!(*LoadLocalState(*env, path)).has_value());
  CHECK(RemoveLocalState(*env, path).ok());
}

TEST_CASE("POOL_DOMAINS helpers") {
  PoolMetadata pool;
  SetDomainStatus(pool, "a", PoolDomainStatus::kActive);
  SetDomainStatus(pool, "b", PoolDomainStatus::kAttached);
  SetDomainStatus(pool, "a", PoolDomainStatus::kAttached);
  CHECK(pool.domains == std::vector<std::pair<std::string, std::string>>{
                            {"a", "Attached"}, {"b", "Attached"}});
  CHECK(DomainStatusIn(pool, "b") == PoolDomainStatus::kAttached);
  CHECK(!DomainStatusIn(pool, "c").has_value());
  CHECK(RemoveDomain(pool, "a"));
  CHECK(!RemoveDomain(pool, "a"));
  pool.domains.emplace_back("d", "Weird");
  CHECK(!DomainStatusIn(pool, "d").has_value());
}

}  // namespace
}  // namespace sanpool::spm
