// Env: every file-system and storage call sanpool makes.
//
// Modelled on leveldb's Env. Code that touches storage takes an `Env&` at
// construction and never calls the OS directly, so tests can substitute a
// FaultEnv (base/fault_env.h) that fails, tears or forgets writes.
//
//   std::unique_ptr<Env> env = NewPosixEnv();
//   RETURN_IF_ERROR(env->WriteFileAtomic("/var/lib/sanpool/state", json, 0600));
//
// The virtual methods are the primitives; the non-virtual helpers
// (WriteFileAtomic, CreateDirs, Exists, ProbeBlockSize) are built only from
// primitives, so a wrapping Env sees, and can fail, each step of them.
//
// Errors: every failing system call becomes ErrnoToStatus(errno, "<op> <path>")
// (ENOENT -> kNotFound, ENOSPC -> kResourceExhausted, EIO -> kUnavailable...);
// the detail "errno" names the errno. Misuse detectable before any system call
// (misaligned direct I/O, a file larger than the caller's limit) is
// kInvalidArgument / kOutOfRange / kResourceExhausted as documented per call.
// EINTR is retried internally and never returned.
//
// Blocking: all calls block on storage; never call them on a network thread.
// Thread-safety: an Env is safe to use from many threads at once. A
// DirectFile may be used from many threads for PRead/PWrite (positioned I/O);
// its lifetime is the caller's.
#ifndef SANPOOL_BASE_ENV_H_
#define SANPOOL_BASE_ENV_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace sanpool {

// The block size direct I/O assumes unless told otherwise; also the memory
// alignment of every AlignedBuffer (valid for both 512 and 4096 devices).
inline constexpr size_t kDefaultBlockSize = 4096;

// A zero-filled heap buffer aligned to kDefaultBlockSize, for O_DIRECT I/O.
// Move-only; a moved-from buffer is empty (size 0, data nullptr).
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // Allocates `size` zeroed bytes. Aborts if memory cannot be allocated
  // (like operator new).
  explicit AlignedBuffer(size_t size);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  char* data() { return data_; }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  std::string_view view() const { return {data_, size_}; }

  // Copies `bytes` to offset `at`. REQUIRES: at + bytes.size() <= size().
  void CopyIn(size_t at, std::string_view bytes);
  // Sets every byte to zero.
  void Clear();

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

enum class FileType {
  kRegular,
  kDirectory,
  kSymlink,
  kBlockDevice,
  kCharDevice,
  kFifo,
  kSocket,
  kOther,
};

struct FileStat {
  uint64_t size = 0;             // st_size (0 for block devices: use DirectFile::Size)
  uint64_t allocated_bytes = 0;  // st_blocks * 512
  mode_t mode = 0;               // permission bits only (07777)
  FileType type = FileType::kOther;
  uint64_t nlink = 0;
  uint64_t inode = 0;
  std::chrono::system_clock::time_point mtime;
};

struct FsStat {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;   // including blocks reserved for root
  uint64_t avail_bytes = 0;  // available to unprivileged users
  uint64_t block_size = 0;   // f_frsize
  bool read_only = false;
  uint64_t fs_type = 0;  // statfs f_type magic (TMPFS_MAGIC 0x01021994, ...)
};

// How WriteFile treats an existing file.
enum class FileCreation {
  kExclusive,  // fail with kAlreadyExists if the file exists
  kTruncate,   // create or truncate
};

// Whether WriteFile fsyncs the data before returning.
enum class Durability { kNoSync, kSync };

struct WriteOptions {
  FileCreation creation = FileCreation::kTruncate;
  Durability durability = Durability::kNoSync;
  mode_t mode = 0644;  // for a created file (umask applies)
};

// fallocate(2) modes.
enum class FallocateMode {
  kAllocate,   // allocate, extending the size if past EOF (mode 0)
  kKeepSize,   // allocate without changing the size
  kPunchHole,  // deallocate, size unchanged
  kZeroRange,  // zero, allocating, extending the size if past EOF
};

enum class DirectAccess { kReadOnly, kReadWrite };
enum class DirectCreation { kOpenExisting, kCreate };

struct DirectOptions {
  DirectAccess access = DirectAccess::kReadOnly;
  DirectCreation creation = DirectCreation::kOpenExisting;
  // Offsets and lengths must be multiples of this (512 or 4096).
  size_t block_size = kDefaultBlockSize;
  mode_t mode = 0644;  // for a created file
};

// A file or block device opened with O_DIRECT: I/O bypasses the page cache
// and reaches the device (or the NFS server) on completion, as sanlock and
// oVirt's mailbox need. Closes its descriptor when destroyed.
class DirectFile {
 public:
  virtual ~DirectFile() = default;

  // Reads buf.size() bytes at `offset`. Retries short reads.
  // kInvalidArgument if offset or buf.size() is not a multiple of
  // block_size(); kOutOfRange if the file ends before the buffer is full
  // (the bytes read so far are in buf, the rest is unspecified).
  virtual Status PRead(uint64_t offset, AlignedBuffer& buf) = 0;
  // Writes all of buf at `offset`. Retries short writes. kInvalidArgument on
  // misalignment as for PRead. On an error part of the data may be written.
  virtual Status PWrite(uint64_t offset, const AlignedBuffer& buf) = 0;
  // fsync(2): flushes the device's volatile cache and the file's metadata.
  virtual Status Fsync() = 0;
  // Size in bytes: st_size for files, BLKGETSIZE64 for block devices.
  virtual Result<uint64_t> Size() = 0;

  virtual size_t block_size() const = 0;
  virtual const std::string& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // ---- Whole files -------------------------------------------------------

  // Reads a whole file. kResourceExhausted if it is larger than `max_size`
  // bytes (nothing is returned then).
  virtual Result<std::string> ReadFile(const std::string& path,
                                       size_t max_size) = 0;
  // Writes `data` as the whole content of `path` (see WriteOptions). Not
  // atomic: a crash or error can leave a partial file. Use WriteFileAtomic
  // for anything that must survive a crash.
  virtual Status WriteFile(const std::string& path, std::string_view data,
                           const WriteOptions& options) = 0;

  // ---- Names -------------------------------------------------------------

  virtual Status RemoveFile(const std::string& path) = 0;
  // rename(2): atomically replaces `to` if it exists.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Hard link `link_path` -> existing `target`.
  virtual Status Link(const std::string& target,
                      const std::string& link_path) = 0;
  virtual Status Symlink(const std::string& target,
                         const std::string& link_path) = 0;
  virtual Result<std::string> ReadLink(const std::string& path) = 0;

  // ---- Directories -------------------------------------------------------

  // kAlreadyExists if it exists (whatever its type).
  virtual Status CreateDir(const std::string& path, mode_t mode) = 0;
  // Removes an empty directory; kFailedPrecondition if not empty.
  virtual Status RemoveDir(const std::string& path) = 0;
  // Entry names (no "." or ".."), sorted bytewise.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  // ---- Metadata ----------------------------------------------------------

  // stat(2), following symlinks.
  virtual Result<FileStat> Stat(const std::string& path) = 0;
  // lstat(2): describes a symlink itself.
  virtual Result<FileStat> StatLink(const std::string& path) = 0;
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;
  virtual Status Fallocate(const std::string& path, FallocateMode mode,
                           uint64_t offset, uint64_t length) = 0;
  // statvfs(2) + statfs(2) of the file system holding `path`.
  virtual Result<FsStat> StatFs(const std::string& path) = 0;

  // ---- Durability --------------------------------------------------------

  // fsync(2) of a directory: makes the creations, removals and renames of
  // its entries durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // fsync(2) of a file's data and metadata.
  virtual Status Fsync(const std::string& path) = 0;

  // ---- Direct I/O --------------------------------------------------------

  // Opens `path` with O_DIRECT (and O_CREAT if asked). kInvalidArgument if
  // the file system does not support O_DIRECT (tmpfs) or block_size is not a
  // power of two >= 512.
  virtual Result<std::unique_ptr<DirectFile>> OpenDirect(
      const std::string& path, const DirectOptions& options) = 0;

  // ---- Helpers built on the primitives ------------------------------------

  // Replaces `path` with `data` so that after a crash it holds either the
  // old or the new content, never a mix: writes a uniquely named temporary
  // file in the same directory (exclusive create, `mode`), fsyncs it, renames
  // it over `path` and fsyncs the directory. If writing, syncing or renaming
  // fails, the temporary file is removed and `path` is untouched. If only
  // the final directory sync fails, `path` already holds the new content but
  // its durability is unknown; the error is returned.
  Status WriteFileAtomic(const std::string& path, std::string_view data,
                         mode_t mode);
  // mkdir -p: creates `path` and missing parents with `mode`; OK if `path`
  // already is a directory; kAlreadyExists if it exists as something else.
  Status CreateDirs(const std::string& path, mode_t mode);
  // Whether `path` exists (following symlinks: a dangling link is false).
  // Errors other than ENOENT/ENOTDIR (e.g. EACCES, EIO) are returned.
  Result<bool> Exists(const std::string& path);
  // The logical block size direct I/O needs in directory `dir`, as oVirt
  // probes it: a 512-byte O_DIRECT write to a temporary file succeeds -> 512,
  // fails with EINVAL -> 4096. The temporary file is always removed. Errors
  // if O_DIRECT is not supported at all or the write fails otherwise.
  Result<size_t> ProbeBlockSize(const std::string& dir);
};

// The real Env over POSIX/Linux system calls. Every descriptor is opened
// O_CLOEXEC. Own it in main() and pass references down.
std::unique_ptr<Env> NewPosixEnv();

// Whether `status` came from ErrnoToStatus(err, ...) (its "errno" detail).
bool IsErrno(const Status& status, int err);

// "a/b/c" -> "a/b"; "c" -> "."; "/c" -> "/". Trailing slashes are ignored.
std::string DirName(std::string_view path);
// "a/b/c" -> "c"; "/" -> "/".
std::string BaseName(std::string_view path);
// Joins with exactly one '/' between the parts.
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace sanpool

#endif  // SANPOOL_BASE_ENV_H_
