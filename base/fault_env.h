// FaultEnv: an Env for tests that wraps another Env and makes storage fail.
//
// Modelled on leveldb's db/fault_injection_test.cc. It passes every call to
// the wrapped Env (normally a PosixEnv over a temp directory) and can:
//
//  * fail operations: the Nth (or every) op of a kind, or any mutating op,
//    optionally only on paths containing a substring or matching a
//    predicate, with a chosen errno (ENOSPC, EIO, EROFS...); the error looks
//    exactly like the real one (ErrnoToStatus);
//  * tear writes: WriteFile / DirectFile::PWrite store only the first K
//    bytes, then fail (WriteFileAtomic is built on WriteFile, so its
//    temporary file is torn);
//  * count operations per kind;
//  * simulate a power loss with DropUnsyncedData().
//
//   FaultEnv env(*posix);
//   env.AddFault({.op = Op::kRename, .error = EIO});
//   CHECK(!env.WriteFileAtomic(path, "new", 0644).ok());
//
// What DropUnsyncedData() models (only what went through this FaultEnv since
// it was created or since the last DropUnsyncedData/ForgetUnsynced; files
// that existed before are considered durable):
//  1. File data written by WriteFile without Durability::kSync and not
//     fsynced since (Fsync(path)) reverts to the content it had at its last
//     sync through this Env, or to empty if it was never synced (the
//     pessimistic outcome: none of the unsynced write survived). Truncate
//     and Fallocate are treated like unsynced data changes.
//  2. Directory entries created since their directory's last SyncDir are
//     undone, newest first: a file, hard link or symlink created there is
//     removed, a directory created there is removed if empty, and a rename
//     into it is reversed (the file moves back to its old name; a file the
//     rename replaced gets back the content it had, if it was a regular file
//     under 16 MiB; a rename over anything else is not reversed).
// Not modelled: removals (RemoveFile/RemoveDir) are durable at once; O_DIRECT
// writes are durable on completion (they bypass the page cache, which is
// what sanlock and the mailbox rely on); metadata such as modes and mtimes.
//
// Thread-safety: thread-safe; faults and counters are shared by all threads.
#ifndef SANPOOL_BASE_FAULT_ENV_H_
#define SANPOOL_BASE_FAULT_ENV_H_

#include <array>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/thread_annotations.h"

namespace sanpool {

// The operations FaultEnv sees, one per Env primitive (and DirectFile call).
enum class Op {
  kReadFile,
  kWriteFile,
  kRemoveFile,
  kRename,
  kLink,
  kSymlink,
  kReadLink,
  kCreateDir,
  kRemoveDir,
  kListDir,
  kStat,
  kStatLink,
  kTruncate,
  kFallocate,
  kStatFs,
  kSyncDir,
  kFsync,
  kOpenDirect,
  kDirectRead,
  kDirectWrite,
  kDirectFsync,
  kDirectSize,
};
inline constexpr size_t kOpCount = static_cast<size_t>(Op::kDirectSize) + 1;

std::string_view OpName(Op op);
// Ops that change storage: writes (including direct writes), removals,
// renames, links, directory creation and removal, truncate, fallocate and
// syncs (including DirectFile::Fsync). Reads, stats and OpenDirect are not.
bool IsMutating(Op op);

// One fault. Leave `op` empty to match every mutating op.
struct FaultRule {
  std::optional<Op> op;
  // Only paths containing this (empty: any). For Rename/Link/Symlink both
  // paths are tried.
  std::string path_substring;
  // Only paths for which this returns true (null: any). Called with the
  // FaultEnv's lock held: it must not call into the FaultEnv.
  std::function<bool(std::string_view path)> path_predicate;
  // Let this many matching ops succeed first: skip = 2 fails the 3rd.
  int skip = 0;
  // How many matching ops to fail after the skipped ones; -1 = all of them.
  int times = 1;
  int error = EIO;
  // For WriteFile and DirectWrite: write the first `torn_bytes` bytes, then
  // fail with `error`. For DirectWrite the count is rounded down to the
  // file's block size. Ignored for other ops.
  std::optional<size_t> torn_bytes;
};

class FaultEnv final : public Env {
 public:
  // `base` must outlive this FaultEnv and every DirectFile it opened.
  explicit FaultEnv(Env& base);
  ~FaultEnv() override;

  // Faults are checked in the order added; the first matching rule that
  // still has failures left applies. A rule with no failures left stays
  // (harmless) until ClearFaults().
  void AddFault(FaultRule rule) EXCLUDES(mu_);
  void ClearFaults() EXCLUDES(mu_);
  // Number of ops failed by faults so far.
  int InjectedCount() const EXCLUDES(mu_);

  // Calls of `op` so far (including failed ones).
  int Count(Op op) const EXCLUDES(mu_);
  void ResetCounts() EXCLUDES(mu_);

  // Simulates a power loss; see the header comment for exactly what is
  // undone. Errors from undoing are returned (the first one); the tracking
  // state is cleared either way.
  Status DropUnsyncedData() EXCLUDES(mu_);
  // Treats everything done so far as durable (clears the tracking state).
  void ForgetUnsynced() EXCLUDES(mu_);

  // Env.
  Result<std::string> ReadFile(const std::string& path,
                               size_t max_size) override;
  Status WriteFile(const std::string& path, std::string_view data,
                   const WriteOptions& options) override;
  Status RemoveFile(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Link(const std::string& target, const std::string& link_path) override;
  Status Symlink(const std::string& target,
                 const std::string& link_path) override;
  Result<std::string> ReadLink(const std::string& path) override;
  Status CreateDir(const std::string& path, mode_t mode) override;
  Status RemoveDir(const std::string& path) override;
  Result<std::vector<std::string>> ListDir(const std::string& path) override;
  Result<FileStat> Stat(const std::string& path) override;
  Result<FileStat> StatLink(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status Fallocate(const std::string& path, FallocateMode mode,
                   uint64_t offset, uint64_t length) override;
  Result<FsStat> StatFs(const std::string& path) override;
  Status SyncDir(const std::string& path) override;
  Status Fsync(const std::string& path) override;
  Result<std::unique_ptr<DirectFile>> OpenDirect(
      const std::string& path, const DirectOptions& options) override;

 private:
  class FaultDirectFile;
  struct Injection {
    int error = 0;  // 0: no fault
    std::optional<size_t> torn_bytes;
  };
  // A directory entry made since its directory's last SyncDir.
  struct PendingEntry {
    enum class Kind { kCreatedFile, kCreatedDir, kRenamed } kind;
    std::string path;  // the new name
    std::string from;  // kRenamed: the old name
    // kRenamed over an existing file: its last durable content, if known.
    bool replaced = false;
    std::optional<std::string> replaced_content;
  };
  // A file whose data changed since its last sync through this Env.
  struct UnsyncedFile {
    std::string synced_content;  // empty if never synced
  };

  // Counts the op and returns the fault to inject, if any.
  Injection Check(Op op, std::string_view path,
                  std::string_view path2 = {}) EXCLUDES(mu_);
  Status InjectedError(const Injection& fault, Op op,
                       std::string_view path) const;
  // Tracking helpers.
  void NoteCreated(const std::string& path, PendingEntry::Kind kind)
      EXCLUDES(mu_);
  // Records that `path`'s data is about to change; remembers its durable
  // content first unless it is already unsynced.
  void NoteDataChanging(const std::string& path) EXCLUDES(mu_);
  // The content of a regular file under 16 MiB, read through base_.
  std::optional<std::string> Snapshot(const std::string& path);

  Env& base_;
  mutable Mutex mu_;
  std::vector<FaultRule> rules_ GUARDED_BY(mu_);
  std::vector<int> matched_ GUARDED_BY(mu_);  // per rule: matching ops seen
  int injected_ GUARDED_BY(mu_) = 0;
  std::array<int, kOpCount> counts_ GUARDED_BY(mu_) = {};
  std::vector<PendingEntry> pending_ GUARDED_BY(mu_);
  std::map<std::string, UnsyncedFile> unsynced_ GUARDED_BY(mu_);
};

}  // namespace sanpool

#endif  // SANPOOL_BASE_FAULT_ENV_H_
