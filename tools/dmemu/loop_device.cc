#include "tools/dmemu/loop_device.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"

namespace sanpool::dmemu {
namespace {

// Entries of a directory other than "." and "..".
std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      out.emplace_back(e->d_name);
    }
  }
  ::closedir(dir);
  return out;
}

bool IsNumber(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// Processes (other than us) with an fd on `dev_path`. readlink, not stat:
// stat would follow fds into other (possibly hung) file systems.
int CountFdOpeners(const std::string& dev_path) {
  const std::string self = std::to_string(::getpid());
  int count = 0;
  for (const std::string& pid : ListDir("/proc")) {
    if (!IsNumber(pid) || pid == self) continue;
    const std::string fd_dir = "/proc/" + pid + "/fd";
    for (const std::string& fd : ListDir(fd_dir)) {
      char target[256];
      std::string link = fd_dir + "/" + fd;
      ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      if (std::string_view(target, static_cast<size_t>(n)) == dev_path) {
        ++count;
        break;  // Count processes, not fds.
      }
    }
  }
  return count;
}

int CountMounts(dev_t rdev) {
  std::ifstream in("/proc/self/mountinfo");
  const std::string want =
      std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  int count = 0;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno;
    fields >> id >> parent >> devno;
    if (devno == want) ++count;
  }
  return count;
}

}  // namespace

Result<LoopHandle> PosixLoopManager::Attach(const std::string& file) {
  UniqueFd backing(::open(file.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
  bool direct = true;
  if (!backing) {
    direct = false;
    backing.Reset(::open(file.c_str(), O_RDWR | O_CLOEXEC));
  }
  if (!backing) return ErrnoToStatus(errno, "open " + file);
  UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
  if (!control) return ErrnoToStatus(errno, "open /dev/loop-control");
  // Another process may take the free device first: retry a few times.
  for (int attempt = 0; attempt < 20; ++attempt) {
    int n = ::ioctl(control.get(), LOOP_CTL_GET_FREE);
    if (n < 0) return ErrnoToStatus(errno, "LOOP_CTL_GET_FREE");
    LoopHandle loop;
    loop.path = "/dev/loop" + std::to_string(n);
    loop.fd.Reset(::open(loop.path.c_str(), O_RDWR | O_CLOEXEC));
    if (!loop.fd) return ErrnoToStatus(errno, "open " + loop.path);
    loop_config config;
    std::memset(&config, 0, sizeof(config));
    config.fd = static_cast<__u32>(backing.get());
    config.block_size = 512;
    config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (direct ? LO_FLAGS_DIRECT_IO : 0);
    int rc = ::ioctl(loop.fd.get(), LOOP_CONFIGURE, &config);
    if (rc != 0 && errno == EINVAL && direct) {
      config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
      rc = ::ioctl(loop.fd.get(), LOOP_CONFIGURE, &config);
    }
    if (rc == 0) return loop;
    if (errno != EBUSY) return ErrnoToStatus(errno, "LOOP_CONFIGURE " + loop.path);
  }
  return UnavailableError("no free loop device after 20 attempts");
}

Status PosixLoopManager::Refresh(const LoopHandle& loop,
                                 const std::string& file) {
  // The loop driver reads the backing inode's cached size; a stat() makes
  // FUSE fetch the new size first (the file system has attr_timeout 0).
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return ErrnoToStatus(errno, "stat " + file);
  if (::ioctl(loop.fd.get(), LOOP_SET_CAPACITY, 0) != 0) {
    return ErrnoToStatus(errno, "LOOP_SET_CAPACITY " + loop.path);
  }
  return Status::Ok();
}

Result<int> PosixLoopManager::OpenCount(const LoopHandle& loop) {
  struct stat st;
  if (::fstat(loop.fd.get(), &st) != 0) {
    return ErrnoToStatus(errno, "fstat " + loop.path);
  }
  std::string base = loop.path.substr(loop.path.rfind('/') + 1);
  int holders =
      static_cast<int>(ListDir("/sys/block/" + base + "/holders").size());
  return CountFdOpeners(loop.path) + holders + CountMounts(st.st_rdev);
}

Status PosixLoopManager::Flush(const LoopHandle& loop) {
  if (::fsync(loop.fd.get()) != 0) {
    return ErrnoToStatus(errno, "fsync " + loop.path);
  }
  return Status::Ok();
}

Status PosixLoopManager::Detach(LoopHandle& loop) {
  Status status;
  if (::ioctl(loop.fd.get(), LOOP_CLR_FD, 0) != 0 && errno != ENXIO) {
    status = ErrnoToStatus(errno, "LOOP_CLR_FD " + loop.path);
  }
  loop.fd.Reset();
  return status;
}

}  // namespace sanpool::dmemu
