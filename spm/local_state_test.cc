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
        "VERSION=1\n"
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
  CHECK(DecodeLocalState("VERSION=2\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(DecodeLocalState("garbage").status().code() == Code::kDataLoss);
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
