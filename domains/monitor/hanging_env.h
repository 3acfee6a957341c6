// HangingEnv: a test Env that forwards everything to another Env, but whose
// O_DIRECT reads of one chosen path block until the test releases them, the
// way reads from a dead NFS server or a lost LUN hang. It also counts
// OpenDirect calls per path.
//
//   HangingEnv env(*posix);
//   env.HangReads(path);       // direct reads of `path` now block
//   ... env.WaitForHung(1);    // one read is blocked
//   env.ReleaseReads();        // they complete; later reads pass
//
// Thread-safety: thread-safe. Every blocked read must be released before the
// HangingEnv is destroyed.
#ifndef SANPOOL_DOMAINS_MONITOR_HANGING_ENV_H_
#define SANPOOL_DOMAINS_MONITOR_HANGING_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/thread_annotations.h"

namespace sanpool::monitor {

class HangingEnv final : public Env {
 public:
  // `base` must outlive this Env and the files it opens.
  explicit HangingEnv(Env& base) : base_(base) {}

  // Direct reads (DirectFile::PRead) of files opened at `path` from now on
  // block until ReleaseReads(). An empty path stops hanging new reads (those
  // already blocked stay blocked).
  void HangReads(std::string path) EXCLUDES(mu_);
  // Lets every blocked read continue, and stops hanging new ones.
  void ReleaseReads() EXCLUDES(mu_);
  // Blocks until `n` reads are blocked at the same time.
  void WaitForHung(int n) const EXCLUDES(mu_);
  int OpenCount(const std::string& path) const EXCLUDES(mu_);

  // Env: forwarded.
  Result<std::string> ReadFile(const std::string& path,
                               size_t max_size) override {
    return base_.ReadFile(path, max_size);
  }
  Status WriteFile(const std::string& path, std::string_view data,
                   const WriteOptions& options) override {
    return base_.WriteFile(path, data, options);
  }
  Status RemoveFile(const std::string& path) override {
    return base_.RemoveFile(path);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_.Rename(from, to);
  }
  Status Link(const std::string& target, const std::string& link) override {
    return base_.Link(target, link);
  }
  Status Symlink(const std::string& target, const std::string& link) override {
    return base_.Symlink(target, link);
  }
  Result<std::string> ReadLink(const std::string& path) override {
    return base_.ReadLink(path);
  }
  Status CreateDir(const std::string& path, mode_t mode) override {
    return base_.CreateDir(path, mode);
  }
  Status RemoveDir(const std::string& path) override {
    return base_.RemoveDir(path);
  }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return base_.ListDir(path);
  }
  Result<FileStat> Stat(const std::string& path) override {
    return base_.Stat(path);
  }
  Result<FileStat> StatLink(const std::string& path) override {
    return base_.StatLink(path);
  }
  Status Truncate(const std::string& path, uint64_t size) override {
    return base_.Truncate(path, size);
  }
  Status Fallocate(const std::string& path, FallocateMode mode,
                   uint64_t offset, uint64_t length) override {
    return base_.Fallocate(path, mode, offset, length);
  }
  Result<FsStat> StatFs(const std::string& path) override {
    return base_.StatFs(path);
  }
  Status SyncDir(const std::string& path) override {
    return base_.SyncDir(path);
  }
  Status Fsync(const std::string& path) override { return base_.Fsync(path); }
  Result<std::unique_ptr<DirectFile>> OpenDirect(
      const std::string& path, const DirectOptions& options) override
      EXCLUDES(mu_);

 private:
  class HangingFile;
  // Called by HangingFile::PRead before reading.
  void MaybeHang(const std::string& path) EXCLUDES(mu_);

  Env& base_;
  mutable Mutex mu_;
  mutable CondVar changed_;
  std::string hang_path_ GUARDED_BY(mu_);
  uint64_t release_generation_ GUARDED_BY(mu_) = 0;
  int hung_ GUARDED_BY(mu_) = 0;
  std::map<std::string, int> opens_ GUARDED_BY(mu_);
};

}  // namespace sanpool::monitor

#endif  // SANPOOL_DOMAINS_MONITOR_HANGING_ENV_H_
