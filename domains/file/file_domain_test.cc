#include "domains/file/file_domain.h"

#include <catch2/catch.hpp>

#include "domains/file/file_test_util.h"
#include "domains/file/fs_util.h"
#include "domains/storage_errors.h"

namespace sanpool::file_domain {
namespace {

using testing::DomainFixture;
using testing::kSd;
using testing::ScratchDir;
using testing::SnapshotTree;

CreateDomainParams Params() {
  CreateDomainParams p;
  p.sd_uuid = kSd;
  p.type = DomainType::kNfs;
  p.description = "nfs1";
  p.remote_path = "srv:/exp";
  return p;
}

struct Bare {
  std::unique_ptr<Env> env = NewPosixEnv();
  FakeClock clock;
  ScratchDir scratch;
  std::string mount = scratch.path();
};

TEST_CASE("create builds oVirt's tree with metadata written last") {
  Bare b;
  auto domain = FileDomain::Create(*b.env, b.clock, b.mount, Params());
  REQUIRE(domain.ok());
  auto tree = SnapshotTree(JoinPath(b.mount, kSd));
  std::vector<std::string> paths;
  for (const auto& [path, desc] : tree) {
    paths.push_back(path + " " + desc.substr(0, desc.find(' ', 5)));
  }
  // Golden layout: names, types and sizes.
  CHECK(paths == std::vector<std::string>{
                     "/dom_md dir",
                     "/dom_md/ids file 0",
                     "/dom_md/inbox file 16777216",
                     "/dom_md/leases file 0",
                     "/dom_md/metadata file 307",
                     "/dom_md/outbox file 16777216",
                     "/dom_md/xleases file 0",
                     "/images dir",
                 });
  // inbox/outbox are sparse.
  auto inbox = b.env->Stat(JoinPath(b.mount, kSd) + "/dom_md/inbox");
  REQUIRE(inbox.ok());
  CHECK(inbox->allocated_bytes < 16u << 20);
  auto info = (*domain)->GetInfo();
  REQUIRE(info.ok());
  CHECK(info->uuid == kSd);
  CHECK(info->type == DomainType::kNfs);
  CHECK(info->name == "nfs1");
  CHECK(info->version == 5);
  CHECK(info->block_size == 512);  // ext4 under /var/tmp
  CHECK(info->alignment == kMiB);
  CHECK((*domain)->Validate().ok());
  auto stats = (*domain)->GetStats();
  REQUIRE(stats.ok());
  CHECK(stats->disk_total > 0);
  CHECK(stats->disk_free <= stats->disk_total);
}

TEST_CASE("metadata file bytes are the sealed v5 dictionary") {
  Bare b;
  REQUIRE(FileDomain::Create(*b.env, b.clock, b.mount, Params()).ok());
  auto bytes = b.env->ReadFile(JoinPath(b.mount, kSd) + "/dom_md/metadata", 4096);
  REQUIRE(bytes.ok());
  CHECK(bytes->starts_with("ALIGNMENT=1048576\nBLOCK_SIZE=512\nCLASS=Data\n"));
  CHECK(bytes->find("\nVERSION=5\n_SHA_CKSUM=") != std::string::npos);
  auto opened = FileDomain::Open(*b.env, b.clock, b.mount, kSd);
  REQUIRE(opened.ok());
}

TEST_CASE("create refuses bad input and existing paths, changing nothing") {
  Bare b;
  REQUIRE(b.env->WriteFile(JoinPath(b.mount, "a-file"), "x", {}).ok());
  auto before = SnapshotTree(b.mount);

  SECTION("invalid ids") {
    for (const char* id : {"..", "a/b", "", kSd + 1,
                           "9D1B6A8F-1C2E-4A5B-8D3C-7E6F5A4B3C2D/.."}) {
      CreateDomainParams p = Params();
      p.sd_uuid = id;
      auto d = FileDomain::Create(*b.env, b.clock, b.mount, p);
      INFO(id);
      CHECK(d.status().code() == Code::kInvalidArgument);
    }
  }
  SECTION("description longer than 50 characters") {
    CreateDomainParams p = Params();
    p.description = std::string(51, 'x');
    CHECK(FileDomain::Create(*b.env, b.clock, b.mount, p)
              .status()
              .storage_code() == storage_code::kStorageDomainDescriptionTooLong);
  }
  SECTION("block domain type, bad block size, bad host count") {
    CreateDomainParams p = Params();
    p.type = DomainType::kIscsi;
    CHECK(FileDomain::Create(*b.env, b.clock, b.mount, p).status().code() ==
          Code::kInvalidArgument);
    p = Params();
    p.block_size = 1024;
    CHECK(FileDomain::Create(*b.env, b.clock, b.mount, p).status().code() ==
          Code::kInvalidArgument);
    p = Params();
    p.max_hosts = 2001;
    CHECK(FileDomain::Create(*b.env, b.clock, b.mount, p).status().code() ==
          Code::kInvalidArgument);
  }
  SECTION("mount path is a file") {
    auto d = FileDomain::Create(*b.env, b.clock, JoinPath(b.mount, "a-file"),
                                Params());
    CHECK(d.status().storage_code() == storage_code::kStorageDomainCreationError);
    CHECK(d.status().message().find("not a directory") != std::string::npos);
  }
  SECTION("domain path is a file") {
    REQUIRE(b.env->WriteFile(JoinPath(b.mount, kSd), "x", {}).ok());
    before = SnapshotTree(b.mount);
    auto d = FileDomain::Create(*b.env, b.clock, b.mount, Params());
    CHECK(d.status().code() == Code::kAlreadyExists);
    CHECK(d.status().storage_code() == storage_code::kStorageDomainAlreadyExists);
    CHECK(d.status().message().find("not a directory") != std::string::npos);
  }
  SECTION("domain exists") {
    REQUIRE(FileDomain::Create(*b.env, b.clock, b.mount, Params()).ok());
    before = SnapshotTree(b.mount);
    auto d = FileDomain::Create(*b.env, b.clock, b.mount, Params());
    CHECK(d.status().storage_code() == storage_code::kStorageDomainAlreadyExists);
  }
  CHECK(SnapshotTree(b.mount) == before);
}

TEST_CASE("ENOSPC or EIO at any step of create leaves no domain behind") {
  Bare b;
  auto before = SnapshotTree(b.mount);
  // Each mutating step create takes, failed in turn.
  for (Op op : {Op::kCreateDir, Op::kWriteFile, Op::kTruncate, Op::kSyncDir,
                Op::kRename, Op::kFsync}) {
    for (int skip = 0; skip < 8; ++skip) {
      FaultEnv env(*b.env);
      env.AddFault({.op = op, .skip = skip, .error = ENOSPC});
      auto d = FileDomain::Create(env, b.clock, b.mount, Params());
      if (env.InjectedCount() == 0) {
        // The op ran fewer than skip+1 times: the create succeeded.
        REQUIRE(d.ok());
        REQUIRE(RemoveTree(*b.env, JoinPath(b.mount, kSd)).ok());
        break;
      }
      INFO(OpName(op) << " #" << skip + 1);
      CHECK_FALSE(d.ok());
      CHECK(SnapshotTree(b.mount) == before);
    }
  }
}

TEST_CASE("storage without O_DIRECT (tmpfs) is refused before writing") {
  Bare b;
  auto before = SnapshotTree(b.mount);
  FaultEnv env(*b.env);
  env.AddFault({.op = Op::kOpenDirect, .times = -1, .error = EINVAL});
  auto d = FileDomain::Create(env, b.clock, b.mount, Params());
  CHECK(d.status().storage_code() ==
        storage_code::kStorageDomainTargetUnsupported);
  CHECK(SnapshotTree(b.mount) == before);
}

TEST_CASE("format removes a detached domain and refuses an attached one") {
  DomainFixture f;
  REQUIRE(f.CreateBase(testing::kImg, testing::kVol1).ok());
  auto md = f.domain_->ReadMetadata().value();
  md.pool_uuids = {"5f4e3d2c-1b0a-4f9e-8d7c-6b5a49382716"};
  REQUIRE(f.domain_->WriteMetadata(md).ok());
  auto before = f.Tree();
  CHECK(FileDomain::Format(*f.posix_, f.mount_, kSd).storage_code() ==
        storage_code::kCannotFormatAttachedStorageDomain);
  CHECK(f.Tree() == before);
  md.pool_uuids.clear();
  REQUIRE(f.domain_->WriteMetadata(md).ok());
  // An interrupted format (metadata gone, tree left) is finished by another.
  f.fault_env_.AddFault({.op = Op::kRemoveDir, .error = EIO});
  CHECK_FALSE(FileDomain::Format(f.fault_env_, f.mount_, kSd).ok());
  CHECK(FileDomain::Open(*f.posix_, f.clock_, f.mount_, kSd)
            .status()
            .storage_code() == storage_code::kStorageDomainMetadataNotFound);
  REQUIRE(FileDomain::Format(*f.posix_, f.mount_, kSd).ok());
  CHECK(SnapshotTree(f.mount_).empty());
  CHECK(FileDomain::Format(*f.posix_, f.mount_, kSd).storage_code() ==
        storage_code::kStorageDomainDoesNotExist);
}

TEST_CASE("open reports missing domains and missing metadata") {
  Bare b;
  auto d = FileDomain::Open(*b.env, b.clock, b.mount, kSd);
  CHECK(d.status().storage_code() == storage_code::kStorageDomainDoesNotExist);
  REQUIRE(b.env->CreateDir(JoinPath(b.mount, kSd), 0755).ok());
  d = FileDomain::Open(*b.env, b.clock, b.mount, kSd);
  CHECK(d.status().storage_code() ==
        storage_code::kStorageDomainMetadataNotFound);
}

TEST_CASE("validate names missing special files") {
  DomainFixture f;
  REQUIRE(f.posix_->RemoveFile(f.DomainDir() + "/dom_md/inbox").ok());
  Status s = f.domain_->Validate();
  CHECK(s.storage_code() == storage_code::kStorageDomainLayoutError);
  CHECK(s.message().find("dom_md/inbox") != std::string::npos);
}

TEST_CASE("a foreign metadata file is reported, not repaired") {
  DomainFixture f;
  std::string path = f.DomainDir() + "/dom_md/metadata";
  auto bytes = f.posix_->ReadFile(path, 4096).value();
  std::string tampered = bytes;
  tampered.replace(tampered.find("VERSION=5"), 9, "VERSION=4");
  REQUIRE(f.posix_->WriteFile(path, tampered, {}).ok());
  auto d = FileDomain::Open(*f.posix_, f.clock_, f.mount_, kSd);
  CHECK(d.status().storage_code() == storage_code::kMetaDataSealIsBroken);
  CHECK(f.posix_->ReadFile(path, 4096).value() == tampered);
}

}  // namespace
}  // namespace sanpool::file_domain
