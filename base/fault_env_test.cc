#include "base/fault_env.h"

#include <stdlib.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace sanpool {
namespace {

class FaultEnvTest {
 public:
  FaultEnvTest() {
    std::string templ = "/var/tmp/sanpool-fault-test-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    dir_ = templ;
  }
  ~FaultEnvTest() { std::filesystem::remove_all(dir_); }

 protected:
  std::string Path(std::string_view name) const { return JoinPath(dir_, name); }
  std::string Read(std::string_view name) {
    Result<std::string> got = posix_->ReadFile(Path(name), 1 << 20);
    return got.ok() ? *got : "<" + got.status().ToString() + ">";
  }
  bool Exists(std::string_view name) { return *posix_->Exists(Path(name)); }
  std::vector<std::string> Names() { return *posix_->ListDir(dir_); }
  // Writes through the posix env: a file that existed before the FaultEnv
  // looked, hence durable.
  void Seed(std::string_view name, std::string_view content) {
    REQUIRE(posix_->WriteFile(Path(name), content, {}).ok());
  }

  std::unique_ptr<Env> posix_ = NewPosixEnv();
  FaultEnv env_{*posix_};
  std::string dir_;
};

TEST_CASE_METHOD(FaultEnvTest, "without faults it passes through and counts") {
  REQUIRE(env_.WriteFile(Path("a"), "x", {}).ok());
  REQUIRE(env_.ReadFile(Path("a"), 10).ok());
  REQUIRE(env_.ReadFile(Path("a"), 10).ok());
  CHECK(env_.Count(Op::kWriteFile) == 1);
  CHECK(env_.Count(Op::kReadFile) == 2);
  CHECK(env_.Count(Op::kRename) == 0);
  CHECK(env_.InjectedCount() == 0);
  env_.ResetCounts();
  CHECK(env_.Count(Op::kReadFile) == 0);
}

TEST_CASE_METHOD(FaultEnvTest, "fails the Nth op of a kind with the errno") {
  env_.AddFault({.op = Op::kWriteFile, .skip = 1, .error = ENOSPC});
  CHECK(env_.WriteFile(Path("1"), "x", {}).ok());
  Status second = env_.WriteFile(Path("2"), "x", {});
  CHECK(second.code() == Code::kResourceExhausted);
  CHECK(IsErrno(second, ENOSPC));
  CHECK(!Exists("2"));  // a failed (untorn) write does nothing
  CHECK(env_.WriteFile(Path("3"), "x", {}).ok());  // times = 1
  CHECK(env_.InjectedCount() == 1);
  CHECK(env_.Count(Op::kWriteFile) == 3);
}

TEST_CASE_METHOD(FaultEnvTest, "fails every mutating op, reads still work") {
  Seed("a", "old");
  env_.AddFault({.times = -1, .error = EROFS});
  CHECK(env_.WriteFile(Path("b"), "x", {}).code() == Code::kPermissionDenied);
  CHECK(env_.RemoveFile(Path("a")).code() == Code::kPermissionDenied);
  CHECK(env_.CreateDir(Path("d"), 0755).code() == Code::kPermissionDenied);
  CHECK(env_.SyncDir(dir_).code() == Code::kPermissionDenied);
  CHECK(*env_.ReadFile(Path("a"), 10) == "old");
  CHECK(env_.Stat(Path("a")).ok());
  env_.ClearFaults();
  CHECK(env_.RemoveFile(Path("a")).ok());
}

TEST_CASE_METHOD(FaultEnvTest, "faults can match a path substring or predicate") {
  env_.AddFault({.path_substring = "metadata", .times = -1});
  env_.AddFault({.path_predicate =
                     [](std::string_view p) { return p.ends_with(".lease"); },
                 .times = -1,
                 .error = ENOSPC});
  CHECK(env_.WriteFile(Path("ids"), "x", {}).ok());
  Status md = env_.WriteFile(Path("metadata"), "x", {});
  CHECK(md.code() == Code::kUnavailable);  // EIO
  CHECK(md.message() == "write " + Path("metadata") + ": Input/output error");
  CHECK(env_.WriteFile(Path("v.lease"), "x", {}).code() ==
        Code::kResourceExhausted);
  // Rename matches on either path.
  CHECK(env_.Rename(Path("ids"), Path("metadata.new")).code() ==
        Code::kUnavailable);
}

TEST_CASE_METHOD(FaultEnvTest, "torn write stores a prefix and fails") {
  env_.AddFault({.op = Op::kWriteFile, .torn_bytes = 3});
  CHECK(env_.WriteFile(Path("t"), "abcdef", {}).code() == Code::kUnavailable);
  CHECK(Read("t") == "abc");
}

// WriteFileAtomic is made of WriteFile(temp), Rename and SyncDir; whichever
// step fails, the target keeps its old content and no temporary is left.
TEST_CASE_METHOD(FaultEnvTest, "write atomically survives each failing step") {
  struct Case {
    const char* name;
    FaultRule rule;
  };
  const Case cases[] = {
      {"create fails", {.op = Op::kWriteFile, .error = ENOSPC}},
      {"torn temp write", {.op = Op::kWriteFile, .error = EIO,
                           .torn_bytes = 2}},
      {"rename fails", {.op = Op::kRename, .error = EIO}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      Seed("state", "old");
      env_.AddFault(c.rule);
      Status s = env_.WriteFileAtomic(Path("state"), "new content", 0644);
      CHECK(!s.ok());
      CHECK(env_.InjectedCount() == 1);
      CHECK(std::string(s.message()).find("write atomically") !=
            std::string::npos);
      CHECK(Read("state") == "old");
      CHECK(Names() == std::vector<std::string>{"state"});
    }
  }
}

TEST_CASE_METHOD(FaultEnvTest, "write atomically reports a failed dir sync") {
  Seed("state", "old");
  env_.AddFault({.op = Op::kSyncDir});
  Status s = env_.WriteFileAtomic(Path("state"), "new", 0644);
  CHECK(s.code() == Code::kUnavailable);
  CHECK(Read("state") == "new");  // documented: content replaced
  CHECK(Names() == std::vector<std::string>{"state"});
}

TEST_CASE_METHOD(FaultEnvTest, "write atomically uses exactly four steps") {
  REQUIRE(env_.WriteFileAtomic(Path("state"), "v1", 0644).ok());
  CHECK(env_.Count(Op::kWriteFile) == 1);
  CHECK(env_.Count(Op::kRename) == 1);
  CHECK(env_.Count(Op::kSyncDir) == 1);
  CHECK(env_.Count(Op::kRemoveFile) == 0);
}

// ---- Power loss -------------------------------------------------------------

TEST_CASE_METHOD(FaultEnvTest, "a synced atomic write survives a crash") {
  Seed("state", "old");
  REQUIRE(env_.WriteFileAtomic(Path("state"), "new", 0644).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("state") == "new");
  CHECK(Names() == std::vector<std::string>{"state"});
}

TEST_CASE_METHOD(FaultEnvTest, "a rename whose directory was not synced is undone") {
  Seed("state", "old");
  REQUIRE(env_.WriteFile(Path("tmp"), "new",
                         {FileCreation::kExclusive, Durability::kSync})
              .ok());
  REQUIRE(env_.Rename(Path("tmp"), Path("state")).ok());
  CHECK(Read("state") == "new");
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("state") == "old");
  CHECK(Names() == std::vector<std::string>{"state"});  // tmp creation undone
}

TEST_CASE_METHOD(FaultEnvTest, "rename without fsyncing the data loses the data") {
  Seed("state", "old");
  REQUIRE(env_.WriteFile(Path("tmp"), "new", {}).ok());  // no fsync
  REQUIRE(env_.Rename(Path("tmp"), Path("state")).ok());
  REQUIRE(env_.SyncDir(dir_).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  // The classic ext4 zero-length-file outcome.
  CHECK(Read("state") == "");
}

TEST_CASE_METHOD(FaultEnvTest, "unsynced overwrite reverts to the durable content") {
  Seed("f", "durable");
  REQUIRE(env_.WriteFile(Path("f"), "v2", {}).ok());
  REQUIRE(env_.WriteFile(Path("f"), "v3", {}).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("f") == "durable");

  REQUIRE(env_.WriteFile(Path("f"), "v4", {}).ok());
  REQUIRE(env_.Fsync(Path("f")).ok());
  REQUIRE(env_.WriteFile(Path("f"), "v5", {}).ok());
  REQUIRE(env_.Truncate(Path("f"), 1).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("f") == "v4");
}

TEST_CASE_METHOD(FaultEnvTest, "new files and dirs need a directory sync") {
  REQUIRE(env_.WriteFile(Path("synced-data"), "x",
                         {FileCreation::kExclusive, Durability::kSync})
              .ok());
  REQUIRE(env_.CreateDir(Path("d"), 0755).ok());
  REQUIRE(env_.Symlink("synced-data", Path("sym")).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Names().empty());

  REQUIRE(env_.CreateDirs(Path("d/e"), 0755).ok());
  REQUIRE(env_.WriteFile(Path("d/e/f"), "x", {.durability = Durability::kSync})
              .ok());
  REQUIRE(env_.SyncDir(dir_).ok());
  REQUIRE(env_.SyncDir(Path("d/e")).ok());
  // d/e itself was never made durable in d: it is removed if empty, and it
  // is not empty, so it stays (documented limitation).
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("d/e/f") == "x");
}

TEST_CASE_METHOD(FaultEnvTest, "removals are durable and forget clears tracking") {
  REQUIRE(env_.WriteFile(Path("a"), "x", {}).ok());
  REQUIRE(env_.RemoveFile(Path("a")).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(!Exists("a"));

  REQUIRE(env_.WriteFile(Path("b"), "x", {}).ok());
  env_.ForgetUnsynced();
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Read("b") == "x");
}

// ---- Direct I/O ---------------------------------------------------------------

TEST_CASE_METHOD(FaultEnvTest, "direct writes can fail and tear at block size") {
  auto file = env_.OpenDirect(Path("dio"), {DirectAccess::kReadWrite,
                                            DirectCreation::kCreate});
  REQUIRE(file.ok());
  AlignedBuffer data(3 * 4096);
  for (size_t i = 0; i < data.size(); ++i) data.data()[i] = 'x';

  env_.AddFault({.op = Op::kDirectWrite, .torn_bytes = 4096 + 100});
  CHECK((*file)->PWrite(0, data).code() == Code::kUnavailable);
  CHECK(*(*file)->Size() == 4096);  // one whole block landed
  AlignedBuffer first(4096);
  REQUIRE((*file)->PRead(0, first).ok());
  CHECK(first.view() == std::string(4096, 'x'));

  env_.AddFault({.op = Op::kDirectRead, .error = EIO});
  CHECK((*file)->PRead(0, first).code() == Code::kUnavailable);
  CHECK((*file)->PRead(0, first).ok());
  env_.AddFault({.op = Op::kDirectFsync, .error = EIO});
  CHECK(!(*file)->Fsync().ok());
  CHECK(env_.Count(Op::kDirectWrite) == 1);
  CHECK(env_.Count(Op::kDirectRead) == 3);
  CHECK(env_.Count(Op::kOpenDirect) == 1);

  // Direct writes are durable; the unsynced creation of the file is not.
  REQUIRE(env_.SyncDir(dir_).ok());
  REQUIRE(env_.DropUnsyncedData().ok());
  CHECK(Exists("dio"));
}

TEST_CASE_METHOD(FaultEnvTest, "probe block size goes through the faults") {
  env_.AddFault({.op = Op::kDirectWrite, .error = EINVAL});
  Result<size_t> bs = env_.ProbeBlockSize(dir_);
  REQUIRE(bs.ok());
  CHECK(*bs == 4096);  // a refused 512-byte write means 4 KiB sectors
  CHECK(Names().empty());

  env_.AddFault({.op = Op::kDirectWrite, .error = EIO});
  CHECK(env_.ProbeBlockSize(dir_).status().code() == Code::kUnavailable);
  CHECK(Names().empty());
}

}  // namespace
}  // namespace sanpool
