// PosixEnv: Env over Linux system calls.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/env.h"
#include "base/unique_fd.h"

namespace sanpool {
namespace {

Status PosixError(std::string_view op, const std::string& path) {
  int err = errno;
  std::string context(op);
  context += ' ';
  context += path;
  return ErrnoToStatus(err, context);
}

// open(2) retried on EINTR; always O_CLOEXEC.
int OpenRetry(const std::string& path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Closes `fd`, reporting the error close(2) may carry (NFS reports deferred
// write errors there). EINTR on Linux still closes the descriptor.
Status CloseChecked(UniqueFd fd, const std::string& path) {
  if (::close(fd.Release()) != 0 && errno != EINTR) {
    return PosixError("close", path);
  }
  return Status::Ok();
}

Status FsyncFd(int fd, const std::string& path) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) return PosixError("fsync", path);
  }
  return Status::Ok();
}

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  if (S_ISBLK(mode)) return FileType::kBlockDevice;
  if (S_ISCHR(mode)) return FileType::kCharDevice;
  if (S_ISFIFO(mode)) return FileType::kFifo;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  return FileType::kOther;
}

FileStat ToFileStat(const struct stat& st) {
  FileStat out;
  out.size = static_cast<uint64_t>(st.st_size);
  out.allocated_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  out.mode = st.st_mode & 07777;
  out.type = TypeOf(st.st_mode);
  out.nlink = st.st_nlink;
  out.inode = st.st_ino;
  out.mtime = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(st.st_mtim.tv_sec) +
          std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  return out;
}

class PosixDirectFile final : public DirectFile {
 public:
  PosixDirectFile(UniqueFd fd, std::string path, size_t block_size)
      : fd_(std::move(fd)), path_(std::move(path)), block_size_(block_size) {}

  Status PRead(uint64_t offset, AlignedBuffer& buf) override {
    RETURN_IF_ERROR(CheckAligned("read", offset, buf.size()));
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pread(fd_.get(), buf.data() + done, buf.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("direct read", path_);
      }
      if (n == 0) {
        return OutOfRangeError("direct read " + path_ + ": end of file at " +
                               std::to_string(offset + done) + ", wanted " +
                               std::to_string(buf.size()) + " bytes at " +
                               std::to_string(offset));
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status PWrite(uint64_t offset, const AlignedBuffer& buf) override {
    RETURN_IF_ERROR(CheckAligned("write", offset, buf.size()));
    size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pwrite(fd_.get(), buf.data() + done, buf.size() - done,
                           static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("direct write", path_);
      }
      if (n == 0) {
        errno = EIO;  // pwrite making no progress: treat as an I/O error.
        return PosixError("direct write", path_);
      }
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Fsync() override { return FsyncFd(fd_.get(), path_); }

  Result<uint64_t> Size() override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return PosixError("fstat", path_);
    if (!S_ISBLK(st.st_mode)) return static_cast<uint64_t>(st.st_size);
    uint64_t bytes = 0;
    if (::ioctl(fd_.get(), BLKGETSIZE64, &bytes) != 0) {
      return PosixError("ioctl BLKGETSIZE64", path_);
    }
    return bytes;
  }

  size_t block_size() const override { return block_size_; }
  const std::string& path() const override { return path_; }

 private:
  Status CheckAligned(std::string_view op, uint64_t offset, size_t length) {
    if (offset % block_size_ == 0 && length % block_size_ == 0) {
      return Status::Ok();
    }
    return InvalidArgumentError(
        "direct " + std::string(op) + " " + path_ + ": offset " +
        std::to_string(offset) + " and length " + std::to_string(length) +
        " must be multiples of the block size " + std::to_string(block_size_));
  }

  UniqueFd fd_;
  const std::string path_;
  const size_t block_size_;
};

class PosixEnv final : public Env {
 public:
  Result<std::string> ReadFile(const std::string& path,
                               size_t max_size) override {
    UniqueFd fd(OpenRetry(path, O_RDONLY));
    if (!fd) return PosixError("open", path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return PosixError("fstat", path);
    auto too_large = [&] {
      return ResourceExhaustedError("read " + path + ": file is larger than " +
                                    std::to_string(max_size) + " bytes");
    };
    if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_size) {
      return too_large();
    }
    std::string out;
    // st_size may be 0 (procfs) or stale: read until EOF, at most max+1.
    out.resize(std::min<size_t>(
        max_size + 1, S_ISREG(st.st_mode) ? st.st_size + 1 : 4096));
    size_t done = 0;
    while (true) {
      if (done == out.size()) {
        if (out.size() > max_size) return too_large();
        out.resize(std::min(max_size + 1, out.size() * 2));
      }
      ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("read", path);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    if (done > max_size) return too_large();
    out.resize(done);
    return out;
  }

  Status WriteFile(const std::string& path, std::string_view data,
                   const WriteOptions& options) override {
    int flags = O_WRONLY | O_CREAT |
                (options.creation == FileCreation::kExclusive ? O_EXCL
                                                              : O_TRUNC);
    UniqueFd fd(OpenRetry(path, flags, options.mode));
    if (!fd) return PosixError("create", path);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path);
      }
      done += static_cast<size_t>(n);
    }
    if (options.durability == Durability::kSync) {
      RETURN_IF_ERROR(FsyncFd(fd.get(), path));
    }
    return CloseChecked(std::move(fd), path);
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path);
    return Status::Ok();
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError("rename", from + " to " + to);
    }
    return Status::Ok();
  }

  Status Link(const std::string& target,
              const std::string& link_path) override {
    if (::link(target.c_str(), link_path.c_str()) != 0) {
      return PosixError("link", link_path + " to " + target);
    }
    return Status::Ok();
  }

  Status Symlink(const std::string& target,
                 const std::string& link_path) override {
    if (::symlink(target.c_str(), link_path.c_str()) != 0) {
      return PosixError("symlink", link_path + " to " + target);
    }
    return Status::Ok();
  }

  Result<std::string> ReadLink(const std::string& path) override {
    std::string out(256, '\0');
    while (true) {
      ssize_t n = ::readlink(path.c_str(), out.data(), out.size());
      if (n < 0) return PosixError("readlink", path);
      if (static_cast<size_t>(n) < out.size()) {
        out.resize(static_cast<size_t>(n));
        return out;
      }
      out.resize(out.size() * 2);  // possibly truncated: retry larger
    }
  }

  Status CreateDir(const std::string& path, mode_t mode) override {
    if (::mkdir(path.c_str(), mode) != 0) return PosixError("mkdir", path);
    return Status::Ok();
  }

  Status RemoveDir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return PosixError("rmdir", path);
    return Status::Ok();
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    UniqueFd fd(OpenRetry(path, O_RDONLY | O_DIRECTORY));
    if (!fd) return PosixError("open directory", path);
    DIR* dir = ::fdopendir(fd.get());
    if (dir == nullptr) return PosixError("fdopendir", path);
    fd.Release();  // owned by `dir` now
    std::vector<std::string> names;
    Status status;
    while (true) {
      errno = 0;
      struct dirent* entry = ::readdir(dir);
      if (entry == nullptr) {
        if (errno != 0) status = PosixError("readdir", path);
        break;
      }
      std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(dir);
    RETURN_IF_ERROR(status);
    std::sort(names.begin(), names.end());
    return names;
  }

  Result<FileStat> Stat(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path);
    return ToFileStat(st);
  }

  Result<FileStat> StatLink(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return PosixError("lstat", path);
    return ToFileStat(st);
  }

  Status Truncate(const std::string& path, uint64_t size) override {
    while (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return PosixError("truncate", path);
    }
    return Status::Ok();
  }

  Status Fallocate(const std::string& path, FallocateMode mode,
                   uint64_t offset, uint64_t length) override {
    int flags = 0;
    switch (mode) {
      case FallocateMode::kAllocate: flags = 0; break;
      case FallocateMode::kKeepSize: flags = FALLOC_FL_KEEP_SIZE; break;
      case FallocateMode::kPunchHole:
        flags = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        break;
      case FallocateMode::kZeroRange: flags = FALLOC_FL_ZERO_RANGE; break;
    }
    UniqueFd fd(OpenRetry(path, O_WRONLY));
    if (!fd) return PosixError("open", path);
    while (::fallocate(fd.get(), flags, static_cast<off_t>(offset),
                       static_cast<off_t>(length)) != 0) {
      if (errno != EINTR) return PosixError("fallocate", path);
    }
    return CloseChecked(std::move(fd), path);
  }

  Result<FsStat> StatFs(const std::string& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) return PosixError("statvfs", path);
    struct statfs fs;
    if (::statfs(path.c_str(), &fs) != 0) return PosixError("statfs", path);
    FsStat out;
    out.block_size = vfs.f_frsize;
    out.total_bytes = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
    out.free_bytes = static_cast<uint64_t>(vfs.f_bfree) * vfs.f_frsize;
    out.avail_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
    out.read_only = (vfs.f_flag & ST_RDONLY) != 0;
    out.fs_type = static_cast<uint64_t>(fs.f_type);
    return out;
  }

  Status SyncDir(const std::string& path) override {
    UniqueFd fd(OpenRetry(path, O_RDONLY | O_DIRECTORY));
    if (!fd) return PosixError("open directory", path);
    return FsyncFd(fd.get(), path);
  }

  Status Fsync(const std::string& path) override {
    UniqueFd fd(OpenRetry(path, O_RDONLY));
    if (!fd) return PosixError("open", path);
    RETURN_IF_ERROR(FsyncFd(fd.get(), path));
    return CloseChecked(std::move(fd), path);
  }

  Result<std::unique_ptr<DirectFile>> OpenDirect(
      const std::string& path, const DirectOptions& options) override {
    size_t bs = options.block_size;
    if (bs < 512 || (bs & (bs - 1)) != 0 || bs > kDefaultBlockSize) {
      return InvalidArgumentError("open direct " + path + ": block size " +
                                  std::to_string(bs) +
                                  " is not 512, 1024, 2048 or 4096");
    }
    int flags = O_DIRECT |
                (options.access == DirectAccess::kReadWrite ? O_RDWR
                                                            : O_RDONLY) |
                (options.creation == DirectCreation::kCreate ? O_CREAT : 0);
    UniqueFd fd(OpenRetry(path, flags, options.mode));
    if (!fd) {
      if (errno == EINVAL) {
        return ErrnoToStatus(EINVAL, "open direct " + path +
                                         " (no O_DIRECT on this file system?)");
      }
      return PosixError("open direct", path);
    }
    return std::unique_ptr<DirectFile>(
        new PosixDirectFile(std::move(fd), path, bs));
  }
};

}  // namespace

std::unique_ptr<Env> NewPosixEnv() { return std::make_unique<PosixEnv>(); }

}  // namespace sanpool
