#include "base/env.h"

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace sanpool {
namespace {

// A fresh directory under `parent`, removed with its content at the end.
struct TempDir {
  explicit TempDir(const std::string& parent = "/tmp") {
    std::string templ = parent + "/sanpool-env-test-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    path = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string operator/(std::string_view name) const {
    return JoinPath(path, name);
  }
  std::string path;
};

// A directory on a file system with O_DIRECT (not tmpfs): /tmp if it is not
// tmpfs, else /var/tmp.
std::string DirectIoParent(Env& env) {
  Result<FsStat> fs = env.StatFs("/tmp");
  if (fs.ok() && fs->fs_type != TMPFS_MAGIC) return "/tmp";
  return "/var/tmp";
}

class EnvTest {
 protected:
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_;
};

TEST_CASE("path helpers split and join") {
  CHECK(DirName("a/b/c") == "a/b");
  CHECK(DirName("c") == ".");
  CHECK(DirName("/c") == "/");
  CHECK(DirName("/a/b/") == "/a");
  CHECK(BaseName("a/b/c") == "c");
  CHECK(BaseName("/a/b/") == "b");
  CHECK(BaseName("/") == "/");
  CHECK(JoinPath("/a/", "/b") == "/a/b");
  CHECK(JoinPath("a", "b") == "a/b");
}

TEST_CASE("aligned buffer is aligned, zeroed and movable") {
  AlignedBuffer buf(8192);
  REQUIRE(buf.size() == 8192);
  CHECK(reinterpret_cast<uintptr_t>(buf.data()) % kDefaultBlockSize == 0);
  CHECK(buf.view() == std::string(8192, '\0'));
  buf.CopyIn(10, "abc");
  CHECK(buf.view().substr(10, 3) == "abc");
  AlignedBuffer moved = std::move(buf);
  CHECK(moved.size() == 8192);
  CHECK(buf.size() == 0);  // NOLINT: testing the moved-from state
  CHECK(buf.data() == nullptr);
  moved.Clear();
  CHECK(moved.view() == std::string(8192, '\0'));
}

TEST_CASE_METHOD(EnvTest, "write then read a file") {
  const std::string path = dir_ / "f";
  REQUIRE(env_->WriteFile(path, "hello", {}).ok());
  Result<std::string> got = env_->ReadFile(path, 100);
  REQUIRE(got.ok());
  CHECK(*got == "hello");

  // Truncate mode replaces; exclusive refuses an existing file.
  REQUIRE(env_->WriteFile(path, "hi", {FileCreation::kTruncate,
                                       Durability::kSync, 0600})
              .ok());
  CHECK(*env_->ReadFile(path, 100) == "hi");
  Status again = env_->WriteFile(path, "x", {FileCreation::kExclusive});
  CHECK(again.code() == Code::kAlreadyExists);
  CHECK(IsErrno(again, EEXIST));
  CHECK(std::string(again.message()).find(path) != std::string::npos);
}

TEST_CASE_METHOD(EnvTest, "read enforces the size limit") {
  const std::string path = dir_ / "big";
  REQUIRE(env_->WriteFile(path, std::string(1000, 'x'), {}).ok());
  CHECK(env_->ReadFile(path, 1000).ok());
  CHECK(env_->ReadFile(path, 999).status().code() ==
        Code::kResourceExhausted);
  // Files whose st_size is 0 are read until EOF, still bounded.
  Result<std::string> proc = env_->ReadFile("/proc/self/status", 1 << 20);
  REQUIRE(proc.ok());
  CHECK(proc->find("Pid:") != std::string::npos);
  CHECK(env_->ReadFile("/proc/self/status", 10).status().code() ==
        Code::kResourceExhausted);
}

TEST_CASE_METHOD(EnvTest, "missing files are NotFound with errno and path") {
  Result<std::string> got = env_->ReadFile(dir_ / "nope", 10);
  REQUIRE(got.status().code() == Code::kNotFound);
  CHECK(IsErrno(got.status(), ENOENT));
  CHECK(!IsErrno(got.status(), EIO));
  CHECK(got.status().message() ==
        "open " + (dir_ / "nope") + ": No such file or directory");
  CHECK(env_->RemoveFile(dir_ / "nope").code() == Code::kNotFound);
  CHECK(env_->Stat(dir_ / "nope").status().code() == Code::kNotFound);
}

TEST_CASE_METHOD(EnvTest, "write atomically replaces and leaves no temp") {
  const std::string path = dir_ / "state";
  REQUIRE(env_->WriteFileAtomic(path, "one", 0600).ok());
  REQUIRE(env_->WriteFileAtomic(path, "two", 0600).ok());
  CHECK(*env_->ReadFile(path, 100) == "two");
  CHECK(env_->Stat(path)->mode == 0600);
  CHECK(*env_->ListDir(dir_.path) == std::vector<std::string>{"state"});
}

TEST_CASE_METHOD(EnvTest, "write atomically into a missing directory fails") {
  Status s = env_->WriteFileAtomic(dir_ / "no/such/file", "x", 0644);
  CHECK(s.code() == Code::kNotFound);
}

TEST_CASE_METHOD(EnvTest, "rename, link, symlink and readlink") {
  const std::string a = dir_ / "a";
  REQUIRE(env_->WriteFile(a, "A", {}).ok());
  REQUIRE(env_->Link(a, dir_ / "hard").ok());
  CHECK(env_->Stat(a)->nlink == 2);
  CHECK(env_->Stat(a)->inode == env_->Stat(dir_ / "hard")->inode);
  REQUIRE(env_->Symlink("a", dir_ / "sym").ok());
  CHECK(*env_->ReadLink(dir_ / "sym") == "a");
  CHECK(env_->StatLink(dir_ / "sym")->type == FileType::kSymlink);
  CHECK(env_->Stat(dir_ / "sym")->type == FileType::kRegular);
  REQUIRE(env_->Rename(a, dir_ / "b").ok());
  CHECK(*env_->ReadFile(dir_ / "b", 10) == "A");
  CHECK(!*env_->Exists(a));
  CHECK(!*env_->Exists(dir_ / "sym"));  // dangling now
  CHECK(env_->ReadLink(dir_ / "b").status().code() ==
        Code::kInvalidArgument);  // not a symlink: EINVAL
  CHECK(env_->Link(dir_ / "b", dir_ / "hard").code() == Code::kAlreadyExists);
  std::string long_target(1000, 'x');
  REQUIRE(env_->Symlink(long_target, dir_ / "long").ok());
  CHECK(*env_->ReadLink(dir_ / "long") == long_target);
}

TEST_CASE_METHOD(EnvTest, "directories: create, list sorted, remove") {
  REQUIRE(env_->CreateDir(dir_ / "d", 0750).ok());
  CHECK(env_->CreateDir(dir_ / "d", 0750).code() == Code::kAlreadyExists);
  for (const char* name : {"c", "a", "b"}) {
    REQUIRE(env_->WriteFile(JoinPath(dir_ / "d", name), "", {}).ok());
  }
  CHECK(*env_->ListDir(dir_ / "d") == std::vector<std::string>{"a", "b", "c"});
  CHECK(env_->RemoveDir(dir_ / "d").code() == Code::kFailedPrecondition);
  CHECK(env_->ListDir(dir_ / "d/a").status().code() ==
        Code::kInvalidArgument);  // ENOTDIR
  CHECK(env_->Stat(dir_ / "d")->type == FileType::kDirectory);
  REQUIRE(env_->SyncDir(dir_ / "d").ok());
  for (const char* name : {"a", "b", "c"}) {
    REQUIRE(env_->RemoveFile(JoinPath(dir_ / "d", name)).ok());
  }
  REQUIRE(env_->RemoveDir(dir_ / "d").ok());
  CHECK(!*env_->Exists(dir_ / "d"));
}

TEST_CASE_METHOD(EnvTest, "create dirs makes parents and is idempotent") {
  const std::string deep = dir_ / "x/y/z";
  REQUIRE(env_->CreateDirs(deep, 0755).ok());
  CHECK(env_->Stat(deep)->type == FileType::kDirectory);
  REQUIRE(env_->CreateDirs(deep, 0755).ok());
  REQUIRE(env_->WriteFile(dir_ / "file", "", {}).ok());
  CHECK(env_->CreateDirs(dir_ / "file", 0755).code() == Code::kAlreadyExists);
  CHECK(!env_->CreateDirs(dir_ / "file/sub", 0755).ok());
  CHECK(!*env_->Exists(dir_ / "file/sub"));  // ENOTDIR -> false
}

TEST_CASE_METHOD(EnvTest, "stat, truncate, fallocate and statfs") {
  const std::string path = dir_ / "f";
  REQUIRE(env_->WriteFile(path, "abc", {FileCreation::kTruncate,
                                        Durability::kNoSync, 0640})
              .ok());
  FileStat st = *env_->Stat(path);
  CHECK(st.size == 3);
  CHECK((st.mode & ~0640u) == 0);  // 0640 minus the umask
  CHECK(st.type == FileType::kRegular);
  CHECK(st.nlink == 1);
  CHECK(st.mtime.time_since_epoch().count() > 0);

  REQUIRE(env_->Truncate(path, 1 << 20).ok());
  CHECK(env_->Stat(path)->size == 1 << 20);
  CHECK(env_->Stat(path)->allocated_bytes < (1 << 20));  // sparse

  REQUIRE(env_->Fallocate(path, FallocateMode::kKeepSize, 0, 1 << 20).ok());
  CHECK(env_->Stat(path)->allocated_bytes >= (1 << 20));
  REQUIRE(env_->Fallocate(path, FallocateMode::kPunchHole, 0, 1 << 20).ok());
  CHECK(env_->Stat(path)->allocated_bytes < (1 << 20));
  CHECK(env_->Stat(path)->size == 1 << 20);
  REQUIRE(env_->Fallocate(path, FallocateMode::kAllocate, 0, 2 << 20).ok());
  CHECK(env_->Stat(path)->size == 2 << 20);
  REQUIRE(env_->Fsync(path).ok());

  FsStat fs = *env_->StatFs(dir_.path);
  CHECK(fs.total_bytes > 0);
  CHECK(fs.free_bytes >= fs.avail_bytes);
  CHECK(fs.total_bytes >= fs.free_bytes);
  CHECK(!fs.read_only);
  CHECK(fs.block_size > 0);
  CHECK(env_->StatFs("/proc")->fs_type == PROC_SUPER_MAGIC);
}

// ---- O_DIRECT -------------------------------------------------------------

class DirectTest {
 protected:
  std::unique_ptr<Env> env_ = NewPosixEnv();
  TempDir dir_{DirectIoParent(*env_)};

  std::unique_ptr<DirectFile> OpenRw(const std::string& path,
                                     size_t block_size = kDefaultBlockSize) {
    auto file = env_->OpenDirect(path, {DirectAccess::kReadWrite,
                                        DirectCreation::kCreate, block_size});
    REQUIRE(file.ok());
    return *std::move(file);
  }
};

TEST_CASE_METHOD(DirectTest, "direct write then read round trips") {
  auto file = OpenRw(dir_ / "dio");
  AlignedBuffer out(3 * 4096);
  for (size_t i = 0; i < out.size(); ++i) out.data()[i] = char(i * 7);
  REQUIRE(file->PWrite(4096, out).ok());
  REQUIRE(file->Fsync().ok());
  CHECK(*file->Size() == 4 * 4096);

  AlignedBuffer in(3 * 4096);
  REQUIRE(file->PRead(4096, in).ok());
  CHECK(in.view() == out.view());
  AlignedBuffer head(4096);
  REQUIRE(file->PRead(0, head).ok());
  CHECK(head.view() == std::string(4096, '\0'));  // the hole reads as zeros

  // A second, read-only handle sees the same bytes.
  auto ro = env_->OpenDirect(dir_ / "dio", {});
  REQUIRE(ro.ok());
  AlignedBuffer again(4096);
  REQUIRE((*ro)->PRead(8192, again).ok());
  CHECK(again.view() == out.view().substr(4096, 4096));
  CHECK((*ro)->PWrite(0, again).code() != Code::kOk);  // EBADF: read-only
}

TEST_CASE_METHOD(DirectTest, "misaligned direct I/O is rejected before I/O") {
  auto file = OpenRw(dir_ / "dio");
  AlignedBuffer block(4096);
  AlignedBuffer odd(1000);
  Status s = file->PWrite(512, block);
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(std::string(s.message()).find("block size 4096") != std::string::npos);
  CHECK(file->PWrite(0, odd).code() == Code::kInvalidArgument);
  CHECK(file->PRead(100, block).code() == Code::kInvalidArgument);
  CHECK(*file->Size() == 0);  // nothing was written
}

TEST_CASE_METHOD(DirectTest, "reading past the end is OutOfRange") {
  auto file = OpenRw(dir_ / "dio");
  AlignedBuffer block(4096);
  REQUIRE(file->PWrite(0, block).ok());
  AlignedBuffer two(8192);
  CHECK(file->PRead(0, two).code() == Code::kOutOfRange);
  CHECK(file->PRead(4096, block).code() == Code::kOutOfRange);
}

TEST_CASE_METHOD(DirectTest, "512-byte blocks when asked for") {
  auto file = OpenRw(dir_ / "dio512", 512);
  CHECK(file->block_size() == 512);
  AlignedBuffer small(4096);
  // 512-aligned offsets pass the check; whether the device accepts them is
  // the device's business (ProbeBlockSize tells).
  Status s = file->PWrite(512, small);
  CHECK((s.ok() || IsErrno(s, EINVAL)));
  CHECK(file->PWrite(100, small).code() == Code::kInvalidArgument);
}

TEST_CASE_METHOD(DirectTest, "open direct validates arguments") {
  CHECK(env_->OpenDirect(dir_ / "missing", {}).status().code() ==
        Code::kNotFound);
  CHECK(env_->OpenDirect(dir_ / "x", {DirectAccess::kReadWrite,
                                      DirectCreation::kCreate, 1000})
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(env_->OpenDirect(dir_ / "x", {DirectAccess::kReadWrite,
                                      DirectCreation::kCreate, 8192})
            .status()
            .code() == Code::kInvalidArgument);
}

TEST_CASE_METHOD(DirectTest, "probe block size finds 512 or 4096, cleans up") {
  Result<size_t> bs = env_->ProbeBlockSize(dir_.path);
  REQUIRE(bs.ok());
  CHECK((*bs == 512 || *bs == 4096));
  CHECK(env_->ListDir(dir_.path)->empty());
  CHECK(env_->ProbeBlockSize(dir_ / "missing").status().code() ==
        Code::kNotFound);
}

TEST_CASE("direct I/O on tmpfs fails cleanly when /dev/shm is tmpfs") {
  auto env = NewPosixEnv();
  Result<FsStat> fs = env->StatFs("/dev/shm");
  if (!fs.ok() || fs->fs_type != TMPFS_MAGIC) return;  // nothing to check
  TempDir dir("/dev/shm");
  Result<std::unique_ptr<DirectFile>> file = env->OpenDirect(
      dir / "f", {DirectAccess::kReadWrite, DirectCreation::kCreate});
  if (file.ok()) return;  // newer kernels support O_DIRECT on tmpfs
  CHECK(file.status().code() == Code::kInvalidArgument);
  CHECK(!env->ProbeBlockSize(dir.path).ok());
}

}  // namespace
}  // namespace sanpool
