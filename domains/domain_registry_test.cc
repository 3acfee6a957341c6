#include "domains/domain_registry.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>

#include "base/fake_clock.h"
#include "base/process.h"
#include "domains/file/file_test_util.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using file_domain::CreateDomainParams;
using file_domain::testing::kImg;
using file_domain::testing::kSd;
using file_domain::testing::ScratchDir;

namespace fs = std::filesystem;

constexpr char kSd2[] = "9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2e";

class RegistryFixture {
 public:
  RegistryFixture() : env_(NewPosixEnv()), qemu_img_(runner_) {
    fs::create_directories(Repo() + "/mnt");
    registry_ = MakeRegistry();
  }

  std::string Repo() const { return scratch_.path() + "/repo"; }
  std::string Mnt(const std::string& name) const {
    return Repo() + "/mnt/" + name;
  }
  std::unique_ptr<DomainRegistry> MakeRegistry() {
    return std::make_unique<DomainRegistry>(
        DomainRegistryDeps{.env = env_.get(),
                           .clock = &clock_,
                           .qemu_img = &qemu_img_,
                           .lock_manager = &locks_,
                           .is_spm = [this] { return is_spm_.load(); }},
        DomainRegistryOptions{.repository = Repo(),
                              .run_dir = scratch_.path() + "/run"});
  }
  // Creates domain kSd on srv:/exp behind the registry's back, with what an
  // interrupted Image.delete leaves behind (REQUIRE-s success); returns the
  // leftover's path.
  std::string DomainWithLeftover() {
    fs::create_directories(Mnt("srv:_exp"));
    REQUIRE(file_domain::FileDomain::Create(*env_, clock_, Mnt("srv:_exp"),
                                            Params(kSd, "srv:/exp"))
                .ok());
    std::string leftover =
        Mnt("srv:_exp") + "/" + kSd + "/images/_remove_me_" + kImg;
    fs::create_directories(leftover);
    return leftover;
  }
  CreateDomainParams Params(const std::string& sd, const std::string& path) {
    CreateDomainParams p;
    p.sd_uuid = sd;
    p.type = DomainType::kNfs;
    p.description = "registry test";
    p.remote_path = path;
    return p;
  }

  ScratchDir scratch_;
  std::unique_ptr<Env> env_;
  FakeClock clock_;
  PosixProcessRunner runner_;
  QemuImg qemu_img_;
  ResourceManager locks_{clock_};
  std::atomic<bool> is_spm_{true};
  std::unique_ptr<DomainRegistry> registry_;
};

TEST_CASE("EscapeMountPath is oVirt's transformPath") {
  CHECK(EscapeMountPath("srv:/exp/a_b") == "srv:_exp_a__b");
  CHECK(EscapeMountPath("/data/local") == "_data_local");
  CHECK(EscapeMountPath("host:/a__b/") == "host:_a____b_");
  CHECK(EscapeMountPath("") == "");
}

TEST_CASE("MountDirFor refuses inputs that do not make one directory name") {
  CHECK(*MountDirFor("/r/mnt", "srv:/exp") == "/r/mnt/srv:_exp");
  for (std::string bad : {std::string(), std::string(".."), std::string("."),
                          std::string("a\0b", 3), std::string("a\nb"),
                          std::string(300, 'x')}) {
    auto dir = MountDirFor("/r/mnt", bad);
    CHECK(dir.status().code() == Code::kInvalidArgument);
    CHECK(dir.status().storage_code() == storage_code::kInvalidParameter);
  }
}

TEST_CASE("a created domain is found by a fresh registry by scanning mnt/") {
  RegistryFixture f;
  fs::create_directories(f.Mnt("srv:_exp"));
  auto created = f.registry_->Create(f.Params(kSd, "srv:/exp"));
  REQUIRE(created.ok());
  CHECK((*created)->mount_dir() == f.Mnt("srv:_exp"));
  auto again = f.registry_->Get(kSd);
  REQUIRE(again.ok());
  CHECK(again->get() == created->get());  // cached

  auto fresh = f.MakeRegistry();
  CHECK(fresh->CachedDomains().empty());
  auto found = fresh->Get(kSd);
  REQUIRE(found.ok());
  CHECK((*found)->mount_dir() == f.Mnt("srv:_exp"));
  CHECK((*found)->domain->GetInfo()->name == "registry test");
  CHECK(fresh->CachedDomains() == std::vector<std::string>{kSd});
}

TEST_CASE("gluster mounts one level deeper are scanned; blockSD is not") {
  RegistryFixture f;
  fs::create_directories(f.Mnt("glusterSD/gsrv:_vol"));
  fs::create_directories(f.Mnt("blockSD"));
  CreateDomainParams p = f.Params(kSd, "gsrv:/vol");
  auto domain = file_domain::FileDomain::Create(
      *f.env_, f.clock_, f.Mnt("glusterSD/gsrv:_vol"), p);
  REQUIRE(domain.ok());
  auto blocked = file_domain::FileDomain::Create(*f.env_, f.clock_,
                                                 f.Mnt("blockSD"),
                                                 f.Params(kSd2, "x"));
  REQUIRE(blocked.ok());
  CHECK(f.registry_->Get(kSd).ok());
  CHECK(f.registry_->Get(kSd2).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("lookups validate the sdUUID and report unknown domains as 358") {
  RegistryFixture f;
  for (const char* bad : {"..", "../etc", "9D1B6A8F1C2E4A5B8D3C7E6F5A4B3C2D",
                          "{9d1b6a8f-1c2e-4a5b-8d3c-7e6f5a4b3c2d}", ""}) {
    CHECK(f.registry_->Get(bad).status().code() == Code::kInvalidArgument);
  }
  auto missing = f.registry_->Get(kSd);
  CHECK(missing.status().code() == Code::kNotFound);
  CHECK(missing.status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);

  RegistryFixture no_mnt;
  fs::remove_all(no_mnt.Repo());
  CHECK(no_mnt.registry_->Get(kSd).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("create needs the connection's mount dir and a new sdUUID") {
  RegistryFixture f;
  auto no_mount = f.registry_->Create(f.Params(kSd, "srv:/missing"));
  CHECK(no_mount.status().storage_code() ==
        storage_code::kStorageDomainCreationError);
  CHECK_FALSE(fs::exists(f.Mnt("srv:_missing")));

  fs::create_directories(f.Mnt("srv:_a"));
  fs::create_directories(f.Mnt("srv:_b"));
  REQUIRE(f.registry_->Create(f.Params(kSd, "srv:/a")).ok());
  auto twice = f.MakeRegistry()->Create(f.Params(kSd, "srv:/b"));
  CHECK(twice.status().storage_code() ==
        storage_code::kStorageDomainAlreadyExists);
  CHECK_FALSE(fs::exists(f.Mnt("srv:_b") + "/" + kSd));

  CHECK(f.registry_->Create(f.Params(kSd2, "")).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("recovery runs once, and only while this host is SPM") {
  RegistryFixture f;
  std::string leftover = f.DomainWithLeftover();

  f.is_spm_ = false;
  REQUIRE(f.registry_->Get(kSd).ok());
  CHECK(fs::exists(leftover));  // not SPM: nothing is touched

  f.is_spm_ = true;
  REQUIRE(f.registry_->Get(kSd).ok());
  CHECK_FALSE(fs::exists(leftover));

  // Once per domain: a new leftover stays until a new registry opens it.
  fs::create_directories(leftover);
  REQUIRE(f.registry_->Get(kSd).ok());
  CHECK(fs::exists(leftover));
  REQUIRE(f.MakeRegistry()->Get(kSd).ok());
  CHECK_FALSE(fs::exists(leftover));
}

TEST_CASE("format removes the domain and forgets it") {
  RegistryFixture f;
  fs::create_directories(f.Mnt("srv:_exp"));
  REQUIRE(f.registry_->Create(f.Params(kSd, "srv:/exp")).ok());
  REQUIRE(f.registry_->Format(kSd).ok());
  CHECK_FALSE(fs::exists(f.Mnt("srv:_exp") + "/" + kSd));
  CHECK(f.registry_->CachedDomains().empty());
  CHECK(f.registry_->Get(kSd).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
  CHECK(f.registry_->Format(kSd).storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("format finishes an interrupted format (dir without metadata)") {
  RegistryFixture f;
  fs::create_directories(f.Mnt("srv:_exp"));
  REQUIRE(f.registry_->Create(f.Params(kSd, "srv:/exp")).ok());
  std::string dir = f.Mnt("srv:_exp") + "/" + kSd;
  fs::remove(dir + "/dom_md/metadata");
  CHECK(f.registry_->Get(kSd).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
  REQUIRE(f.registry_->Format(kSd).ok());
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("a cached domain whose directory vanished is dropped") {
  RegistryFixture f;
  fs::create_directories(f.Mnt("srv:_exp"));
  REQUIRE(f.registry_->Create(f.Params(kSd, "srv:/exp")).ok());
  fs::remove_all(f.Mnt("srv:_exp") + "/" + kSd);
  CHECK(f.registry_->Get(kSd).status().storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
  CHECK(f.registry_->CachedDomains().empty());
}

}  // namespace
}  // namespace sanpool

namespace sanpool {
namespace {

TEST_CASE("recovery waits for a busy domain instead of blocking lookups") {
  RegistryFixture f;
  std::string leftover = f.DomainWithLeftover();
  {
    // An operation holds the domain (what ImageLocks takes).
    auto busy = f.locks_.Acquire(kStorageLockNamespace, kSd, LockMode::kShared,
                                 Duration::zero());
    REQUIRE(busy.ok());
    REQUIRE(f.registry_->Get(kSd).ok());
    CHECK(fs::exists(leftover));
  }
  REQUIRE(f.registry_->Get(kSd).ok());
  CHECK_FALSE(fs::exists(leftover));
}

}  // namespace
}  // namespace sanpool
