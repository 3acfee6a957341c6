// Env's helpers and AlignedBuffer. The helpers use only Env's virtual
// primitives so that a wrapping Env (FaultEnv) can fail each step.
#include "base/env.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cassert>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>

namespace sanpool {

AlignedBuffer::AlignedBuffer(size_t size) : size_(size) {
  if (size == 0) return;
  void* p = nullptr;
  if (posix_memalign(&p, kDefaultBlockSize, size) != 0) std::abort();
  data_ = static_cast<char*>(p);
  std::memset(data_, 0, size_);
}

AlignedBuffer::~AlignedBuffer() { std::free(data_); }

AlignedBuffer::AlignedBuffer(AlignedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void AlignedBuffer::CopyIn(size_t at, std::string_view bytes) {
  assert(at <= size_ && bytes.size() <= size_ - at);
  if (!bytes.empty()) std::memcpy(data_ + at, bytes.data(), bytes.size());
}

void AlignedBuffer::Clear() {
  if (size_ > 0) std::memset(data_, 0, size_);
}

bool IsErrno(const Status& status, int err) {
  const char* name = strerrorname_np(err);
  std::string wanted = name ? name : std::to_string(err);
  for (const StatusDetail& d : status.details()) {
    if (d.key == "errno") return d.value == wanted;
  }
  return false;
}

std::string DirName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  std::string_view dir = path.substr(0, slash);
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return std::string(dir);
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/") return "/";
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path
                                                     : path.substr(slash + 1));
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  out += '/';
  out += name;
  return out;
}

namespace {

// A name no other writer picks: pid, a process-wide counter and randomness
// (another host may write into the same NFS directory).
std::string TempName(std::string_view path) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return JoinPath(DirName(path),
                  "." + BaseName(path) + ".tmp." + std::to_string(getpid()) +
                      "." + std::to_string(counter.fetch_add(1)) + "." +
                      std::to_string(rng() % 1000000));
}

}  // namespace

Status Env::WriteFileAtomic(const std::string& path, std::string_view data,
                            mode_t mode) {
  std::string tmp;
  Status written;
  // An exclusive create collides only with a leftover of another writer.
  for (int attempt = 0; attempt < 5; ++attempt) {
    tmp = TempName(path);
    written = WriteFile(tmp, data,
                        {FileCreation::kExclusive, Durability::kSync, mode});
    if (written.code() != Code::kAlreadyExists) break;
  }
  if (!written.ok()) {
    // The create itself may have failed (nothing to remove) or a later
    // write/fsync (a partial temp file exists); remove in both cases.
    if (written.code() != Code::kAlreadyExists) (void)RemoveFile(tmp);
    return written.Annotate("write atomically " + path);
  }
  if (Status renamed = Rename(tmp, path); !renamed.ok()) {
    (void)RemoveFile(tmp);
    return renamed.Annotate("write atomically " + path);
  }
  return SyncDir(DirName(path)).Annotate("write atomically " + path);
}

Status Env::CreateDirs(const std::string& path, mode_t mode) {
  Status created = CreateDir(path, mode);
  if (created.ok()) return created;
  if (created.code() == Code::kAlreadyExists) {
    ASSIGN_OR_RETURN(FileStat st, Stat(path));
    if (st.type == FileType::kDirectory) return Status::Ok();
    return created;
  }
  if (created.code() != Code::kNotFound) return created;
  std::string parent = DirName(path);
  if (parent == path) return created;
  RETURN_IF_ERROR(CreateDirs(parent, mode));
  created = CreateDir(path, mode);
  // Lost a race with another creator: fine if it made a directory.
  if (created.code() == Code::kAlreadyExists) {
    ASSIGN_OR_RETURN(FileStat st, Stat(path));
    if (st.type == FileType::kDirectory) return Status::Ok();
  }
  return created;
}

Result<bool> Env::Exists(const std::string& path) {
  Result<FileStat> st = Stat(path);
  if (st.ok()) return true;
  if (st.status().code() == Code::kNotFound) return false;
  // ENOTDIR: a path component is a file, so the path cannot exist.
  if (IsErrno(st.status(), ENOTDIR)) return false;
  return st.status();
}

Result<size_t> Env::ProbeBlockSize(const std::string& dir) {
  const std::string path = TempName(JoinPath(dir, "block-size-probe"));
  Result<std::unique_ptr<DirectFile>> file =
      OpenDirect(path, {DirectAccess::kReadWrite, DirectCreation::kCreate, 512,
                        0600});
  if (!file.ok()) {
    (void)RemoveFile(path);
    return file.status().Annotate("probe block size in " + dir);
  }
  AlignedBuffer buf(512);
  Status wrote = (*file)->PWrite(0, buf);
  file->reset();
  Status removed = RemoveFile(path);
  if (wrote.ok()) {
    RETURN_IF_ERROR(removed);
    return size_t{512};
  }
  if (IsErrno(wrote, EINVAL)) return size_t{4096};
  return wrote.Annotate("probe block size in " + dir);
}

}  // namespace sanpool
