// StorageServer with FakeProcessRunner: mount/umount answered by handlers
// that edit a fake mountinfo file, LOCALFS links on a real scratch dir.
#include "domains/storage_server.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/fake_process.h"
#include "domains/domain_registry.h"
#include "domains/mount_info.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

namespace fs = std::filesystem;

class ServerFixture {
 public:
  ServerFixture() {
    std::string templ = "/tmp/sanpool-ss-XXXXXX";
    REQUIRE(mkdtemp(templ.data()) != nullptr);
    root_ = templ;
    mountinfo_ = root_ + "/mountinfo";
    std::ofstream(mountinfo_)
        << "22 1 0:21 / /proc rw,nosuid - proc proc rw\n";
    server_ = std::make_unique<StorageServer>(
        *env_, runner_,
        StorageServer::Options{.mnt_root = root_ + "/repo/mnt",
                               .mountinfo_path = mountinfo_});
    // mount -t <type> [-o opts] <source> <dir>: records the mount.
    runner_.ExpectHandler(
        {"/usr/bin/mount"},
        [this](const ProcessSpec& spec) -> Result<ProcessResult> {
          ProcessResult r;
          r.exit_code = mount_exit_;
          if (mount_exit_ != 0) {
            r.stderr_data = "mount: wrong fs type";
            return r;
          }
          const auto& a = spec.argv;
          std::ofstream(mountinfo_, std::ios::app)
              << "99 1 7:0 / " << a[a.size() - 1] << " rw - " << a[2] << " "
              << a[a.size() - 2] << " rw\n";
          return r;
        },
        FakeProcessRunner::Match::kPrefix);
    runner_.ExpectHandler(
        {"/usr/bin/umount", "-f", "-l"},
        [this](const ProcessSpec& spec) -> Result<ProcessResult> {
          RemoveMountLine(spec.argv.back());
          ProcessResult r;
          r.exit_code = 0;
          return r;
        },
        FakeProcessRunner::Match::kPrefix);
  }
  ~ServerFixture() { fs::remove_all(root_); }

  void RemoveMountLine(const std::string& dir) {
    std::ifstream in(mountinfo_);
    std::string line, kept;
    while (std::getline(in, line)) {
      if (line.find(" " + dir + " ") == std::string::npos) kept += line + "\n";
    }
    in.close();
    std::ofstream(mountinfo_) << kept;
  }

  std::string Mnt(const std::string& escaped) const {
    return root_ + "/repo/mnt/" + escaped;
  }

  std::unique_ptr<Env> env_ = NewPosixEnv();
  FakeProcessRunner runner_;
  std::string root_;
  std::string mountinfo_;
  int mount_exit_ = 0;
  std::unique_ptr<StorageServer> server_;
};

ConnectionParams Posix(std::string id, std::string dev) {
  return {.id = std::move(id), .connection = std::move(dev),
          .vfs_type = "ext4", .mnt_options = "noatime"};
}

TEST_CASE("mountinfo parsing decodes escapes and finds the top mount",
          "[storage_server]") {
  auto mounts = ParseMountInfo(
      "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root "
      "rw,errors=continue\n"
      "40 35 0:50 / /rhev/mnt/srv:_a\\040b rw shared:2 - nfs srv:/a\\040b "
      "rw,vers=3\n"
      "41 35 0:51 / /mnt/parent rw - tmpfs tmpfs rw\n");
  REQUIRE(mounts.ok());
  REQUIRE(mounts->size() == 3);
  CHECK((*mounts)[1].mount_point == "/rhev/mnt/srv:_a b");
  CHECK((*mounts)[1].source == "srv:/a b");
  CHECK((*mounts)[1].fs_type == "nfs");
  auto top = FindMount(*mounts, "/mnt/parent");
  REQUIRE(top);
  CHECK(top->fs_type == "tmpfs");
  CHECK_FALSE(FindMount(*mounts, "/nowhere"));
  CHECK(ParseMountInfo("1 2 3 4\n").status().code() == Code::kDataLoss);
  CHECK(ParseMountInfo("36 35 98:0 / /x rw - ext4\n").status().code() ==
        Code::kDataLoss);
}

TEST_CASE("NFS options follow oVirt's defaults", "[storage_server]") {
  ConnectionParams p{.id = "a", .connection = "srv:/export"};
  CHECK(StorageServer::NfsOptions(p) ==
        "soft,nosharecache,timeo=100,retrans=3,nfsvers=3,nolock");
  p.protocol_version = "4.1";
  p.timeout = 600;
  p.retrans = 6;
  p.mnt_options = "sec=krb5";
  CHECK(StorageServer::NfsOptions(p) ==
        "soft,nosharecache,timeo=600,retrans=6,nfsvers=4,minorversion=1,"
        "sec=krb5");
  p = {.id = "a", .connection = "srv:/e", .mnt_options = "lock",
       .protocol_version = "auto"};
  CHECK(StorageServer::NfsOptions(p) ==
        "soft,nosharecache,timeo=100,retrans=3,lock");
  // v3: the user's options first, then nolock (oVirt's order).
  p = {.id = "a", .connection = "srv:/e", .mnt_options = "noac,,sec=sys"};
  CHECK(StorageServer::NfsOptions(p) ==
        "soft,nosharecache,timeo=100,retrans=3,nfsvers=3,noac,sec=sys,"
        "nolock");
  // "locking=x" is not "lock".
  p.mnt_options = "locking=x";
  CHECK(StorageServer::NfsOptions(p) ==
        "soft,nosharecache,timeo=100,retrans=3,nfsvers=3,locking=x,nolock");
}

TEST_CASE("NFS connect runs mount -t nfs with the built options",
          "[storage_server]") {
  ServerFixture f;
  auto st = f.server_->Connect(
      ConnectionType::kNfs,
      {{.id = "c1", .connection = "srv:/exports/data_1/"}});
  REQUIRE(st.size() == 1);
  INFO(st[0].error.ToString());
  CHECK(st[0].status == 0);
  std::string dir = f.Mnt("srv:_exports_data__1");
  CHECK(f.runner_.CallArgvs().back() ==
        std::vector<std::string>{
            "/usr/bin/mount", "-t", "nfs", "-o",
            "soft,nosharecache,timeo=100,retrans=3,nfsvers=3,nolock",
            "srv:/exports/data_1", dir});
  CHECK(fs::is_directory(dir));
  REQUIRE(f.server_->Connections().size() == 1);
  CHECK(f.server_->Connections()[0].local_path == dir);
}

TEST_CASE("POSIXFS connect, reconnect is a no-op, disconnect unmounts",
          "[storage_server]") {
  ServerFixture f;
  auto st = f.server_->Connect(ConnectionType::kPosixFs,
                               {Posix("c1", "/dev/loop7")});
  REQUIRE(st[0].status == 0);
  std::string dir = f.Mnt("_dev_loop7");
  CHECK(f.runner_.CallArgvs() ==
        std::vector<std::vector<std::string>>{
            {"/usr/bin/mount", "-t", "ext4", "-o", "noatime", "/dev/loop7",
             dir}});
  // Already mounted (mountinfo says so): connected without a second mount.
  st = f.server_->Connect(ConnectionType::kPosixFs,
                          {Posix("c1", "/dev/loop7")});
  CHECK(st[0].status == 0);
  CHECK(f.runner_.CallArgvs().size() == 1);

  st = f.server_->Disconnect(ConnectionType::kPosixFs,
                             {Posix("c1", "/dev/loop7")});
  CHECK(st[0].status == 0);
  CHECK(f.runner_.CallArgvs().back() ==
        std::vector<std::string>{"/usr/bin/umount", "-f", "-l", dir});
  CHECK_FALSE(fs::exists(dir));
  CHECK(f.server_->Connections().empty());
  // Idempotent: nothing mounted, nothing run, still OK.
  st = f.server_->Disconnect(ConnectionType::kPosixFs,
                             {Posix("c1", "/dev/loop7")});
  CHECK(st[0].status == 0);
  CHECK(f.runner_.CallArgvs().size() == 2);
}

TEST_CASE("NFS versions other than N or N.M are refused", "[storage_server]") {
  ServerFixture f;
  std::vector<ConnectionParams> cons;
  for (const char* v : {"4.1.2", ".4", "4.", "v4", "4,sec=sys"}) {
    cons.push_back({.id = v, .connection = "srv:/e", .protocol_version = v});
  }
  for (const ConnectionStatus& s :
       f.server_->Connect(ConnectionType::kNfs, cons)) {
    INFO(s.id);
    CHECK(s.status == storage_code::kInvalidParameter);
  }
  CHECK(f.runner_.CallArgvs().empty());
}

TEST_CASE("One bad connection does not fail the others", "[storage_server]") {
  ServerFixture f;
  ConnectionParams injected = Posix("bad1", "/dev/loop1");
  injected.mnt_options = "-oro";
  ConnectionParams newline = Posix("bad2", "/dev/loop2");
  newline.mnt_options = "ro\nrw";
  ConnectionParams dash = Posix("bad3", "--bind");
  ConnectionParams vfs = Posix("bad4", "/dev/loop4");
  vfs.vfs_type = "ext4 -o";
  auto st = f.server_->Connect(
      ConnectionType::kPosixFs,
      {injected, Posix("good", "/dev/loop0"), newline, dash, vfs});
  REQUIRE(st.size() == 5);
  CHECK(st[0].status == storage_code::kInvalidParameter);
  CHECK(st[1].status == 0);
  CHECK(st[2].status == storage_code::kInvalidParameter);
  CHECK(st[3].status == storage_code::kInvalidParameter);
  CHECK(st[4].status == storage_code::kInvalidParameter);
  CHECK(f.runner_.CallArgvs().size() == 1);
  CHECK(f.server_->Connections().size() == 1);
}

TEST_CASE("A failing mount is 477 and leaves no directory",
          "[storage_server]") {
  ServerFixture f;
  f.mount_exit_ = 32;
  auto st = f.server_->Connect(ConnectionType::kPosixFs,
                               {Posix("c1", "/dev/loop7")});
  CHECK(st[0].status == 477);
  CHECK(st[0].error.message().find("exit code 32") != std::string::npos);
  CHECK_FALSE(fs::exists(f.Mnt("_dev_loop7")));
  CHECK(f.server_->Connections().empty());
}

TEST_CASE("A mount point used by another source is refused",
          "[storage_server]") {
  ServerFixture f;
  std::ofstream(f.mountinfo_, std::ios::app)
      << "99 1 7:0 / " << f.Mnt("_dev_loop7") << " rw - ext4 /dev/sda1 rw\n";
  auto st = f.server_->Connect(ConnectionType::kPosixFs,
                               {Posix("c1", "/dev/loop7")});
  CHECK(st[0].status == 477);
  CHECK(f.runner_.CallArgvs().empty());
}

TEST_CASE("LOCALFS links the directory and checks the path",
          "[storage_server]") {
  ServerFixture f;
  std::string data = f.root_ + "/local_data";
  fs::create_directory(data);
  std::string link = f.Mnt(EscapeMountPath(data));
  auto st = f.server_->Connect(ConnectionType::kLocalFs,
                               {{.id = "l1", .connection = data}});
  INFO(st[0].error.ToString());
  REQUIRE(st[0].status == 0);
  CHECK(fs::is_symlink(link));
  CHECK(fs::read_symlink(link) == data);
  // Twice is fine; a stale link is replaced.
  CHECK(f.server_->Connect(ConnectionType::kLocalFs,
                           {{.id = "l1", .connection = data}})[0]
            .status == 0);
  st = f.server_->Connect(
      ConnectionType::kLocalFs,
      {{.id = "x1", .connection = "relative/dir"},
       {.id = "x2", .connection = data + "/../local_data"},
       {.id = "x3", .connection = f.root_ + "/missing"},
       {.id = "x4", .connection = f.mountinfo_}});
  CHECK(st[0].status == storage_code::kInvalidParameter);
  CHECK(st[1].status == storage_code::kInvalidParameter);
  CHECK(st[2].status == storage_code::kInvalidParameter);
  CHECK(st[3].status == storage_code::kInvalidParameter);
  CHECK(f.runner_.CallArgvs().empty());

  st = f.server_->Disconnect(ConnectionType::kLocalFs,
                             {{.id = "l1", .connection = data}});
  CHECK(st[0].status == 0);
  CHECK_FALSE(fs::exists(link));
  CHECK(fs::is_directory(data));  // the data itself is untouched
  CHECK(f.server_->Disconnect(ConnectionType::kLocalFs,
                              {{.id = "l1", .connection = data}})[0]
            .status == 0);
}

TEST_CASE("Unsupported connection types are 468", "[storage_server]") {
  ServerFixture f;
  auto st = f.server_->Connect(ConnectionType::kGlusterFs,
                               {{.id = "g", .connection = "srv:/vol"}});
  CHECK(st[0].status == 468);
  CHECK(ParseConnectionType("6").value() == ConnectionType::kPosixFs);
  CHECK(ParseConnectionType("NFS").value() == ConnectionType::kNfs);
  CHECK_FALSE(ParseConnectionType("5").ok());
}

}  // namespace
}  // namespace sanpool
