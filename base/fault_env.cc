#include "base/fault_env.h"

#include <algorithm>
#include <cerrno>

namespace sanpool {

namespace {

constexpr size_t kMaxSnapshot = 16 << 20;

// "/a/b/" -> "/a/b", so directory names compare equal however written.
std::string Normalized(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  return std::string(path);
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kReadFile: return "read";
    case Op::kWriteFile: return "write";
    case Op::kRemoveFile: return "unlink";
    case Op::kRename: return "rename";
    case Op::kLink: return "link";
    case Op::kSymlink: return "symlink";
    case Op::kReadLink: return "readlink";
    case Op::kCreateDir: return "mkdir";
    case Op::kRemoveDir: return "rmdir";
    case Op::kListDir: return "list directory";
    case Op::kStat: return "stat";
    case Op::kStatLink: return "lstat";
    case Op::kTruncate: return "truncate";
    case Op::kFallocate: return "fallocate";
    case Op::kStatFs: return "statfs";
    case Op::kSyncDir: return "fsync directory";
    case Op::kFsync: return "fsync";
    case Op::kOpenDirect: return "open direct";
    case Op::kDirectRead: return "direct read";
    case Op::kDirectWrite: return "direct write";
    case Op::kDirectFsync: return "direct fsync";
    case Op::kDirectSize: return "direct size";
  }
  return "?";
}

bool IsMutating(Op op) {
  switch (op) {
    case Op::kWriteFile:
    case Op::kRemoveFile:
    case Op::kRename:
    case Op::kLink:
    case Op::kSymlink:
    case Op::kCreateDir:
    case Op::kRemoveDir:
    case Op::kTruncate:
    case Op::kFallocate:
    case Op::kSyncDir:
    case Op::kFsync:
    case Op::kDirectWrite:
    case Op::kDirectFsync:
      return true;
    default:
      return false;
  }
}

// Forwards to the wrapped DirectFile, consulting the owner's faults.
class FaultEnv::FaultDirectFile final : public DirectFile {
 public:
  FaultDirectFile(FaultEnv& owner, std::unique_ptr<DirectFile> base)
      : owner_(owner), base_(std::move(base)) {}

  Status PRead(uint64_t offset, AlignedBuffer& buf) override {
    Injection fault = owner_.Check(Op::kDirectRead, path());
    if (fault.error != 0) {
      return owner_.InjectedError(fault, Op::kDirectRead, path());
    }
    return base_->PRead(offset, buf);
  }

  Status PWrite(uint64_t offset, const AlignedBuffer& buf) override {
    Injection fault = owner_.Check(Op::kDirectWrite, path());
    if (fault.error == 0) return base_->PWrite(offset, buf);
    if (fault.torn_bytes && buf.size() % block_size() == 0 &&
        offset % block_size() == 0) {
      size_t keep = std::min(*fault.torn_bytes, buf.size());
      keep -= keep % block_size();
      if (keep > 0) {
        AlignedBuffer prefix(keep);
        prefix.CopyIn(0, buf.view().substr(0, keep));
        RETURN_IF_ERROR(base_->PWrite(offset, prefix));
      }
    }
    return owner_.InjectedError(fault, Op::kDirectWrite, path());
  }

  Status Fsync() override {
    Injection fault = owner_.Check(Op::kDirectFsync, path());
    if (fault.error != 0) {
      return owner_.InjectedError(fault, Op::kDirectFsync, path());
    }
    return base_->Fsync();
  }

  Result<uint64_t> Size() override {
    Injection fault = owner_.Check(Op::kDirectSize, path());
    if (fault.error != 0) {
      return owner_.InjectedError(fault, Op::kDirectSize, path());
    }
    return base_->Size();
  }

  size_t block_size() const override { return base_->block_size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  FaultEnv& owner_;
  std::unique_ptr<DirectFile> base_;
};

FaultEnv::FaultEnv(Env& base) : base_(base) {}
FaultEnv::~FaultEnv() = default;

void FaultEnv::AddFault(FaultRule rule) {
  MutexLock lock(mu_);
  rules_.push_back(std::move(rule));
  matched_.push_back(0);
}

void FaultEnv::ClearFaults() {
  MutexLock lock(mu_);
  rules_.clear();
  matched_.clear();
}

int FaultEnv::InjectedCount() const {
  MutexLock lock(mu_);
  return injected_;
}

int FaultEnv::Count(Op op) const {
  MutexLock lock(mu_);
  return counts_[static_cast<size_t>(op)];
}

void FaultEnv::ResetCounts() {
  MutexLock lock(mu_);
  counts_.fill(0);
}

FaultEnv::Injection FaultEnv::Check(Op op, std::string_view path,
                                    std::string_view path2) {
  MutexLock lock(mu_);
  ++counts_[static_cast<size_t>(op)];
  for (size_t i = 0; i < rules_.size(); ++i) {
    const FaultRule& rule = rules_[i];
    if (rule.op ? *rule.op != op : !IsMutating(op)) continue;
    auto path_matches = [&](std::string_view p) {
      if (p.empty()) return false;
      if (!rule.path_substring.empty() &&
          p.find(rule.path_substring) == std::string_view::npos) {
        return false;
      }
      return !rule.path_predicate || rule.path_predicate(p);
    };
    if (!path_matches(path) && !path_matches(path2)) continue;
    int seen = ++matched_[i];
    if (seen <= rule.skip) continue;
    if (rule.times >= 0 && seen > rule.skip + rule.times) continue;
    ++injected_;
    return {rule.error, rule.torn_bytes};
  }
  return {};
}

Status FaultEnv::InjectedError(const Injection& fault, Op op,
                               std::string_view path) const {
  return ErrnoToStatus(fault.error,
                       std::string(OpName(op)) + " " + std::string(path))
      .WithDetail("injected", "true");
}

std::optional<std::string> FaultEnv::Snapshot(const std::string& path) {
  Result<FileStat> st = base_.StatLink(path);
  if (!st.ok() || st->type != FileType::kRegular) return std::nullopt;
  Result<std::string> content = base_.ReadFile(path, kMaxSnapshot);
  if (!content.ok()) return std::nullopt;
  return *std::move(content);
}

void FaultEnv::NoteCreated(const std::string& path, PendingEntry::Kind kind) {
  MutexLock lock(mu_);
  pending_.push_back({kind, path, {}, false, std::nullopt});
}

void FaultEnv::NoteDataChanging(const std::string& path) {
  {
    MutexLock lock(mu_);
    if (unsynced_.count(path) != 0) return;
  }
  // Not tracked yet: its current content is durable (written before this
  // FaultEnv, or synced through it). A missing file's durable content is "".
  std::string durable = Snapshot(path).value_or("");
  MutexLock lock(mu_);
  unsynced_.try_emplace(path, UnsyncedFile{std::move(durable)});
}

Result<std::string> FaultEnv::ReadFile(const std::string& path,
                                       size_t max_size) {
  Injection fault = Check(Op::kReadFile, path);
  if (fault.error != 0) return InjectedError(fault, Op::kReadFile, path);
  return base_.ReadFile(path, max_size);
}

Status FaultEnv::WriteFile(const std::string& path, std::string_view data,
                           const WriteOptions& options) {
  Injection fault = Check(Op::kWriteFile, path);
  if (fault.error != 0 && !fault.torn_bytes) {
    return InjectedError(fault, Op::kWriteFile, path);
  }
  Result<bool> existed = base_.Exists(path);
  RETURN_IF_ERROR(existed.status());
  NoteDataChanging(path);
  WriteOptions opts = options;
  if (fault.error != 0) {
    // Torn: part of the data lands, unsynced, then the "write" fails.
    data = data.substr(0, std::min(*fault.torn_bytes, data.size()));
    opts.durability = Durability::kNoSync;
  }
  Status written = base_.WriteFile(path, data, opts);
  if (!*existed) {
    Result<bool> exists_now = base_.Exists(path);
    if (exists_now.ok() && *exists_now) {
      NoteCreated(path, PendingEntry::Kind::kCreatedFile);
    }
  }
  if (written.ok() && opts.durability == Durability::kSync) {
    MutexLock lock(mu_);
    unsynced_.erase(path);
  }
  if (fault.error != 0) return InjectedError(fault, Op::kWriteFile, path);
  return written;
}

Status FaultEnv::RemoveFile(const std::string& path) {
  Injection fault = Check(Op::kRemoveFile, path);
  if (fault.error != 0) return InjectedError(fault, Op::kRemoveFile, path);
  RETURN_IF_ERROR(base_.RemoveFile(path));
  MutexLock lock(mu_);
  unsynced_.erase(path);
  return Status::Ok();
}

Status FaultEnv::Rename(const std::string& from, const std::string& to) {
  Injection fault = Check(Op::kRename, from, to);
  if (fault.error != 0) return InjectedError(fault, Op::kRename, from);
  PendingEntry entry{PendingEntry::Kind::kRenamed, to, from, false,
                     std::nullopt};
  Result<FileStat> old_to = base_.StatLink(to);
  if (old_to.ok()) {
    entry.replaced = true;
    MutexLock lock(mu_);
    if (auto it = unsynced_.find(to); it != unsynced_.end()) {
      entry.replaced_content = it->second.synced_content;
    }
  }
  if (entry.replaced && !entry.replaced_content) {
    entry.replaced_content = Snapshot(to);
  }
  RETURN_IF_ERROR(base_.Rename(from, to));
  MutexLock lock(mu_);
  unsynced_.erase(to);
  if (auto it = unsynced_.find(from); it != unsynced_.end()) {
    unsynced_.emplace(to, std::move(it->second));
    unsynced_.erase(it);
  }
  pending_.push_back(std::move(entry));
  return Status::Ok();
}

Status FaultEnv::Link(const std::string& target,
                      const std::string& link_path) {
  Injection fault = Check(Op::kLink, target, link_path);
  if (fault.error != 0) return InjectedError(fault, Op::kLink, link_path);
  RETURN_IF_ERROR(base_.Link(target, link_path));
  NoteCreated(link_path, PendingEntry::Kind::kCreatedFile);
  return Status::Ok();
}

Status FaultEnv::Symlink(const std::string& target,
                         const std::string& link_path) {
  Injection fault = Check(Op::kSymlink, target, link_path);
  if (fault.error != 0) return InjectedError(fault, Op::kSymlink, link_path);
  RETURN_IF_ERROR(base_.Symlink(target, link_path));
  NoteCreated(link_path, PendingEntry::Kind::kCreatedFile);
  return Status::Ok();
}

Result<std::string> FaultEnv::ReadLink(const std::string& path) {
  Injection fault = Check(Op::kReadLink, path);
  if (fault.error != 0) return InjectedError(fault, Op::kReadLink, path);
  return base_.ReadLink(path);
}

Status FaultEnv::CreateDir(const std::string& path, mode_t mode) {
  Injection fault = Check(Op::kCreateDir, path);
  if (fault.error != 0) return InjectedError(fault, Op::kCreateDir, path);
  RETURN_IF_ERROR(base_.CreateDir(path, mode));
  NoteCreated(path, PendingEntry::Kind::kCreatedDir);
  return Status::Ok();
}

Status FaultEnv::RemoveDir(const std::string& path) {
  Injection fault = Check(Op::kRemoveDir, path);
  if (fault.error != 0) return InjectedError(fault, Op::kRemoveDir, path);
  return base_.RemoveDir(path);
}

Result<std::vector<std::string>> FaultEnv::ListDir(const std::string& path) {
  Injection fault = Check(Op::kListDir, path);
  if (fault.error != 0) return InjectedError(fault, Op::kListDir, path);
  return base_.ListDir(path);
}

Result<FileStat> FaultEnv::Stat(const std::string& path) {
  Injection fault = Check(Op::kStat, path);
  if (fault.error != 0) return InjectedError(fault, Op::kStat, path);
  return base_.Stat(path);
}

Result<FileStat> FaultEnv::StatLink(const std::string& path) {
  Injection fault = Check(Op::kStatLink, path);
  if (fault.error != 0) return InjectedError(fault, Op::kStatLink, path);
  return base_.StatLink(path);
}

Status FaultEnv::Truncate(const std::string& path, uint64_t size) {
  Injection fault = Check(Op::kTruncate, path);
  if (fault.error != 0) return InjectedError(fault, Op::kTruncate, path);
  NoteDataChanging(path);
  return base_.Truncate(path, size);
}

Status FaultEnv::Fallocate(const std::string& path, FallocateMode mode,
                           uint64_t offset, uint64_t length) {
  Injection fault = Check(Op::kFallocate, path);
  if (fault.error != 0) return InjectedError(fault, Op::kFallocate, path);
  NoteDataChanging(path);
  return base_.Fallocate(path, mode, offset, length);
}

Result<FsStat> FaultEnv::StatFs(const std::string& path) {
  Injection fault = Check(Op::kStatFs, path);
  if (fault.error != 0) return InjectedError(fault, Op::kStatFs, path);
  return base_.StatFs(path);
}

Status FaultEnv::SyncDir(const std::string& path) {
  Injection fault = Check(Op::kSyncDir, path);
  if (fault.error != 0) return InjectedError(fault, Op::kSyncDir, path);
  RETURN_IF_ERROR(base_.SyncDir(path));
  const std::string dir = Normalized(path);
  MutexLock lock(mu_);
  std::erase_if(pending_, [&](const PendingEntry& e) {
    return Normalized(DirName(e.path)) == dir;
  });
  return Status::Ok();
}

Status FaultEnv::Fsync(const std::string& path) {
  Injection fault = Check(Op::kFsync, path);
  if (fault.error != 0) return InjectedError(fault, Op::kFsync, path);
  RETURN_IF_ERROR(base_.Fsync(path));
  // fsync of a directory also makes its entries durable.
  const std::string dir = Normalized(path);
  MutexLock lock(mu_);
  unsynced_.erase(path);
  std::erase_if(pending_, [&](const PendingEntry& e) {
    return Normalized(DirName(e.path)) == dir;
  });
  return Status::Ok();
}

Result<std::unique_ptr<DirectFile>> FaultEnv::OpenDirect(
    const std::string& path, const DirectOptions& options) {
  Injection fault = Check(Op::kOpenDirect, path);
  if (fault.error != 0) return InjectedError(fault, Op::kOpenDirect, path);
  bool existed = true;
  if (options.creation == DirectCreation::kCreate) {
    ASSIGN_OR_RETURN(existed, base_.Exists(path));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   base_.OpenDirect(path, options));
  if (!existed) NoteCreated(path, PendingEntry::Kind::kCreatedFile);
  return std::unique_ptr<DirectFile>(
      new FaultDirectFile(*this, std::move(file)));
}

void FaultEnv::ForgetUnsynced() {
  MutexLock lock(mu_);
  pending_.clear();
  unsynced_.clear();
}

Status FaultEnv::DropUnsyncedData() {
  std::vector<PendingEntry> pending;
  std::map<std::string, UnsyncedFile> unsynced;
  {
    MutexLock lock(mu_);
    pending.swap(pending_);
    unsynced.swap(unsynced_);
  }
  Status first;
  auto note = [&first](Status s) {
    if (first.ok() && !s.ok() && s.code() != Code::kNotFound) first = s;
  };
  // 1. Unsynced data reverts to its durable content.
  for (const auto& [path, file] : unsynced) {
    Result<bool> exists = base_.Exists(path);
    if (!exists.ok() || !*exists) continue;  // removals are durable
    note(base_.WriteFile(path, file.synced_content,
                         {FileCreation::kTruncate, Durability::kSync, 0644}));
  }
  // 2. Unsynced directory entries are undone, newest first.
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    switch (it->kind) {
      case PendingEntry::Kind::kCreatedFile:
        note(base_.RemoveFile(it->path));
        break;
      case PendingEntry::Kind::kCreatedDir: {
        Status removed = base_.RemoveDir(it->path);
        if (removed.code() != Code::kFailedPrecondition) note(removed);
        break;
      }
      case PendingEntry::Kind::kRenamed:
        if (it->replaced && !it->replaced_content) break;  // cannot undo
        note(base_.Rename(it->path, it->from));
        if (it->replaced) {
          note(base_.WriteFile(it->path, *it->replaced_content,
                               {FileCreation::kTruncate, Durability::kSync,
                                0644}));
        }
        break;
    }
  }
  return first;
}

}  // namespace sanpool
