#define FUSE_USE_VERSION 312
#include "tools/dmemu/fuse_fs.h"

#include <fuse3/fuse.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include "base/log.h"

namespace sanpool::dmemu {
namespace {

FuseFs::Context& Ctx() {
  return *static_cast<FuseFs::Context*>(fuse_get_context()->private_data);
}

Emulator& Emu() { return *Ctx().emulator; }

// "/name" -> "name"; "" for the root and for nested paths (which never
// exist: the directory is flat).
std::string_view Leaf(const char* path) {
  std::string_view p(path);
  if (p.size() < 2 || p[0] != '/' || p.find('/', 1) != std::string_view::npos) {
    return {};
  }
  return p.substr(1);
}

std::shared_ptr<MappedDevice>& Handle(fuse_file_info* fi) {
  return *reinterpret_cast<std::shared_ptr<MappedDevice>*>(fi->fh);
}

void* Init(fuse_conn_info* /*conn*/, fuse_config* cfg) {
  cfg->direct_io = 1;
  cfg->kernel_cache = 0;
  cfg->attr_timeout = 0;
  cfg->entry_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1;
  return fuse_get_context()->private_data;
}

int GetAttr(const char* path, struct stat* st, fuse_file_info* /*fi*/) {
  std::memset(st, 0, sizeof(*st));
  if (std::strcmp(path, "/") == 0) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
    return 0;
  }
  std::shared_ptr<MappedDevice> device = Emu().Find(Leaf(path));
  if (!device) return -ENOENT;
  st->st_mode = S_IFREG | 0600;
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(device->SizeBytes());
  st->st_blksize = 4096;
  st->st_blocks = st->st_size / 512;
  return 0;
}

int ReadDir(const char* path, void* buf, fuse_fill_dir_t fill, off_t /*off*/,
            fuse_file_info* /*fi*/, fuse_readdir_flags /*flags*/) {
  if (std::strcmp(path, "/") != 0) return -ENOTDIR;
  fill(buf, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buf, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const std::string& name : Emu().Names()) {
    fill(buf, name.c_str(), nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  }
  return 0;
}

int Open(const char* path, fuse_file_info* fi) {
  std::shared_ptr<MappedDevice> device = Emu().Find(Leaf(path));
  if (!device) return -ENOENT;
  if (fi->flags & O_TRUNC) return -EPERM;
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fi->fh = reinterpret_cast<uint64_t>(
      new std::shared_ptr<MappedDevice>(std::move(device)));
  Ctx().open_files.fetch_add(1);
  return 0;
}

int Release(const char* /*path*/, fuse_file_info* fi) {
  delete &Handle(fi);
  Ctx().open_files.fetch_sub(1);
  return 0;
}

int Read(const char* /*path*/, char* buf, size_t size, off_t offset,
         fuse_file_info* fi) {
  return static_cast<int>(
      Handle(fi)->Read(buf, size, static_cast<uint64_t>(offset)));
}

int Write(const char* /*path*/, const char* buf, size_t size, off_t offset,
          fuse_file_info* fi) {
  return static_cast<int>(
      Handle(fi)->Write(buf, size, static_cast<uint64_t>(offset)));
}

int Fsync(const char* /*path*/, int /*datasync*/, fuse_file_info* fi) {
  return Handle(fi)->Sync();
}

int Flush(const char* /*path*/, fuse_file_info* /*fi*/) { return 0; }

// The size is the table's; only a reload changes it.
int Truncate(const char* path, off_t size, fuse_file_info* /*fi*/) {
  std::shared_ptr<MappedDevice> device = Emu().Find(Leaf(path));
  if (!device) return -ENOENT;
  return static_cast<uint64_t>(size) == device->SizeBytes() ? 0 : -EPERM;
}

fuse_operations MakeOperations() {
  fuse_operations ops{};
  ops.init = Init;
  ops.getattr = GetAttr;
  ops.readdir = ReadDir;
  ops.open = Open;
  ops.release = Release;
  ops.read = Read;
  ops.write = Write;
  ops.fsync = Fsync;
  ops.flush = Flush;
  ops.truncate = Truncate;
  return ops;
}

}  // namespace

Result<std::unique_ptr<FuseFs>> FuseFs::Mount(const std::string& mount_dir,
                                              Emulator& emulator) {
  static const fuse_operations kOps = MakeOperations();
  char arg0[] = "sanpool-dmemu";
  char arg1[] = "-o";
  char arg2[] = "fsname=sanpool-dmemu,subtype=dmemu";
  char* argv[] = {arg0, arg1, arg2, nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, argv);
  std::unique_ptr<FuseFs> fs(new FuseFs());
  fs->context_.emulator = &emulator;
  fs->fuse_ = fuse_new(&args, &kOps, sizeof(kOps), &fs->context_);
  fuse_opt_free_args(&args);
  if (fs->fuse_ == nullptr) return UnavailableError("fuse_new failed");
  if (fuse_mount(fs->fuse_, mount_dir.c_str()) != 0) {
    fuse_destroy(fs->fuse_);
    fs->fuse_ = nullptr;
    return UnavailableError("cannot mount FUSE at " + mount_dir);
  }
  fs->mounted_ = true;
  struct fuse* f = fs->fuse_;
  fs->loop_thread_ = std::thread([f] {
    fuse_loop_config* config = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(config, 64);
    fuse_loop_cfg_set_idle_threads(config, 4);
    int rc = fuse_loop_mt(f, config);
    fuse_loop_cfg_destroy(config);
    if (rc != 0) log::Debug("dmemu", "fuse loop ended", {{"rc", rc}});
  });
  return fs;
}

void FuseFs::Unmount() {
  if (!mounted_) return;
  mounted_ = false;
  // Detached loop devices release their files asynchronously; wait (bounded)
  // for those releases so that the unmount is not merely lazy.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (context_.open_files.load() > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (int left = context_.open_files.load(); left > 0) {
    log::Warning("dmemu", "unmounting with files still open", {{"open", left}});
  }
  // Unmounting ends the kernel connection; the loop's threads see ENODEV
  // and fuse_loop_mt returns.
  fuse_exit(fuse_);
  fuse_unmount(fuse_);
  if (loop_thread_.joinable()) loop_thread_.join();
  fuse_destroy(fuse_);
  fuse_ = nullptr;
}

FuseFs::~FuseFs() { Unmount(); }

}  // namespace sanpool::dmemu
