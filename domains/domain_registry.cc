#include "domains/domain_registry.h"

#include <utility>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/storage_errors.h"

namespace sanpool {
namespace {

using file_domain::CreateDomainParams;
using file_domain::FileDomain;
using file_domain::FileDomainLayout;

// mnt/ entries that are not connection mount dirs.
constexpr std::string_view kBlockSdDir = "blockSD";
// mnt/glusterSD/<escaped connection>/ holds gluster mounts one level deeper.
constexpr std::string_view kGlusterSdDir = "glusterSD";
constexpr size_t kMaxNameBytes = 255;

Status DomainDoesNotExist(std::string_view sd_uuid) {
  return Status(Code::kNotFound,
                "Storage domain does not exist: " + std::string(sd_uuid),
                storage_code::kStorageDomainDoesNotExist);
}

std::string JoinLines(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

}  // namespace

std::string EscapeMountPath(std::string_view remote_path) {
  std::string out;
  out.reserve(remote_path.size() + 8);
  for (char c : remote_path) {
    if (c == '_') {
      out += "__";
    } else if (c == '/') {
      out += '_';
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::string> MountDirFor(std::string_view mnt_root,
                                std::string_view remote_path) {
  if (remote_path.empty()) {
    return InvalidParameter("remote path is empty");
  }
  if (remote_path.find('\0') != std::string_view::npos ||
      remote_path.find('\n') != std::string_view::npos) {
    return InvalidParameter("remote path holds NUL or a newline");
  }
  std::string name = EscapeMountPath(remote_path);
  if (name == "." || name == ".." || name.size() > kMaxNameBytes) {
    return InvalidParameter("remote path does not make a mount dir name: " +
                            name.substr(0, 64));
  }
  return JoinPath(mnt_root, name);
}

DomainRegistry::DomainRegistry(DomainRegistryDeps deps,
                               DomainRegistryOptions options)
    : deps_(std::move(deps)),
      options_(std::move(options)),
      mnt_root_(JoinPath(options_.repository, "mnt")) {}

std::shared_ptr<FileDomainBundle> DomainRegistry::MakeBundle(
    std::unique_ptr<FileDomain> domain) {
  auto bundle = std::make_shared<FileDomainBundle>();
  bundle->domain = std::move(domain);
  bundle->locks = std::make_unique<file_domain::ImageLocks>(
      *deps_.lock_manager, bundle->domain->layout().sd_uuid(),
      options_.lock_timeout);
  bundle->volumes = std::make_unique<file_domain::FileVolumes>(
      *bundle->domain, *deps_.qemu_img, *bundle->locks);
  bundle->images = std::make_unique<file_domain::FileImages>(
      *bundle->domain, *bundle->locks, options_.run_dir);
  return bundle;
}

std::shared_ptr<FileDomainBundle> DomainRegistry::Cached(
    const std::string& sd_uuid) {
  std::shared_ptr<FileDomainBundle> bundle;
  {
    MutexLock lock(mu_);
    auto it = cache_.find(sd_uuid);
    if (it == cache_.end()) return nullptr;
    bundle = it->second;
  }
  // Outside mu_: a stat on a hung NFS mount must not block other domains.
  auto st = deps_.env->Stat(bundle->domain->layout().metadata_file());
  if (st.ok()) return bundle;
  log::Info("domains", "cached domain is gone, dropping it",
            {{"sd", sd_uuid}, {"error", st.status().ToString()}});
  MutexLock lock(mu_);
  auto it = cache_.find(sd_uuid);
  if (it != cache_.end() && it->second == bundle) cache_.erase(it);
  recovered_.erase(sd_uuid);
  return nullptr;
}

bool DomainRegistry::NeedsRecovery(const std::string& sd_uuid) const {
  if (!deps_.is_spm || !deps_.is_spm()) return false;
  MutexLock lock(mu_);
  return recovered_.count(sd_uuid) == 0;
}

Result<std::shared_ptr<FileDomainBundle>> DomainRegistry::Get(
    std::string_view sd_uuid_view) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid_view, "sdUUID"));
  std::string sd_uuid(sd_uuid_view);
  if (auto bundle = Cached(sd_uuid); bundle && !NeedsRecovery(sd_uuid)) {
    return bundle;
  }
  MutexLock open(open_mu_);
  std::shared_ptr<FileDomainBundle> bundle = Cached(sd_uuid);
  if (!bundle) {
    ASSIGN_OR_RETURN(std::string mount_dir, Find(sd_uuid, FindMode::kDomain));
    ASSIGN_OR_RETURN(std::unique_ptr<FileDomain> domain,
                     FileDomain::Open(*deps_.env, *deps_.clock, mount_dir,
                                      sd_uuid));
    bundle = MakeBundle(std::move(domain));
    log::Info("domains", "opened domain",
              {{"sd", sd_uuid}, {"mount_dir", mount_dir}});
    MutexLock lock(mu_);
    cache_[sd_uuid] = bundle;
  }
  RecoverIfSpm(*bundle);
  return bundle;
}

Result<std::string> DomainRegistry::Find(const std::string& sd_uuid,
                                         FindMode mode) {
  auto entries = deps_.env->ListDir(mnt_root_);
  if (!entries.ok()) {
    if (entries.status().code() == Code::kNotFound) {
      return DomainDoesNotExist(sd_uuid);
    }
    return entries.status();
  }
  std::vector<std::string> mount_dirs;
  for (const std::string& name : *entries) {
    if (name == kBlockSdDir) continue;
    std::string dir = JoinPath(mnt_root_, name);
    if (name == kGlusterSdDir) {
      auto gluster = deps_.env->ListDir(dir);
      if (!gluster.ok()) continue;
      for (const std::string& sub : *gluster) {
        mount_dirs.push_back(JoinPath(dir, sub));
      }
      continue;
    }
    mount_dirs.push_back(std::move(dir));
  }
  for (const std::string& mount_dir : mount_dirs) {
    ASSIGN_OR_RETURN(FileDomainLayout layout,
                     FileDomainLayout::Make(mount_dir, sd_uuid));
    // A domain dir without metadata is an interrupted create or format:
    // not a domain (FileDomain::Open would say 364), but Format finishes it.
    const std::string& probe = mode == FindMode::kDomain
                                   ? layout.metadata_file()
                                   : layout.domain_dir();
    if (deps_.env->Stat(probe).ok()) return mount_dir;
  }
  return DomainDoesNotExist(sd_uuid);
}

void DomainRegistry::RecoverIfSpm(const FileDomainBundle& bundle) {
  const std::string& sd_uuid = bundle.sd_uuid();
  if (!NeedsRecovery(sd_uuid)) return;
  // No operation may run on the domain while it is repaired. A try-lock:
  // waiting here would stall every other lookup behind open_mu_; a busy
  // domain is recovered on a later lookup instead.
  auto held = deps_.lock_manager->Acquire(kStorageLockNamespace, sd_uuid,
                                          LockMode::kExclusive,
                                          Duration::zero());
  if (!held.ok()) {
    log::Warning("domains", "recovery postponed: domain busy",
                 {{"sd", sd_uuid}, {"error", held.status().ToString()}});
    return;
  }
  auto report = bundle.domain->RecoverDomain();
  if (!report.ok()) {
    log::Error("domains", "domain recovery failed",
               {{"sd", sd_uuid}, {"error", report.status().ToString()}});
    return;
  }
  const file_domain::RecoveryReport& r = *report;
  if (r.removed.empty() && r.repaired.empty() && r.problems.empty()) {
    log::Info("domains", "domain recovery: nothing to do", {{"sd", sd_uuid}});
  } else {
    log::Warning("domains", "domain recovery",
                 {{"sd", sd_uuid},
                  {"removed", JoinLines(r.removed)},
                  {"repaired", JoinLines(r.repaired)},
                  {"problems", JoinLines(r.problems)}});
  }
  MutexLock lock(mu_);
  recovered_.insert(sd_uuid);
}

Result<std::shared_ptr<FileDomainBundle>> DomainRegistry::Create(
    const CreateDomainParams& params) {
  RETURN_IF_ERROR(ValidateUuid(params.sd_uuid, "sdUUID"));
  ASSIGN_OR_RETURN(std::string mount_dir,
                   MountDirFor(mnt_root_, params.remote_path));
  MutexLock open(open_mu_);
  if (Cached(params.sd_uuid) ||
      Find(params.sd_uuid, FindMode::kDirectory).ok()) {
    return Status(Code::kAlreadyExists,
                  "Storage domain already exists: " + params.sd_uuid,
                  storage_code::kStorageDomainAlreadyExists);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<FileDomain> domain,
                   FileDomain::Create(*deps_.env, *deps_.clock, mount_dir,
                                      params));
  auto bundle = MakeBundle(std::move(domain));
  log::Info("domains", "created domain",
            {{"sd", params.sd_uuid}, {"mount_dir", mount_dir}});
  MutexLock lock(mu_);
  cache_[params.sd_uuid] = bundle;
  // A new domain has nothing to recover.
  recovered_.insert(params.sd_uuid);
  return bundle;
}

Status DomainRegistry::Format(std::string_view sd_uuid_view) {
  RETURN_IF_ERROR(ValidateUuid(sd_uuid_view, "sdUUID"));
  std::string sd_uuid(sd_uuid_view);
  MutexLock open(open_mu_);
  std::string mount_dir;
  if (auto bundle = Cached(sd_uuid)) {
    mount_dir = bundle->mount_dir();
  } else {
    ASSIGN_OR_RETURN(mount_dir, Find(sd_uuid, FindMode::kDirectory));
  }
  ASSIGN_OR_RETURN(auto held, deps_.lock_manager->Acquire(
                                  kStorageLockNamespace, sd_uuid,
                                  LockMode::kExclusive, options_.lock_timeout));
  RETURN_IF_ERROR(FileDomain::Format(*deps_.env, mount_dir, sd_uuid));
  log::Info("domains", "formatted domain",
            {{"sd", sd_uuid}, {"mount_dir", mount_dir}});
  MutexLock lock(mu_);
  cache_.erase(sd_uuid);
  recovered_.erase(sd_uuid);
  return Status::Ok();
}

std::vector<std::string> DomainRegistry::CachedDomains() const {
  MutexLock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [sd, bundle] : cache_) out.push_back(sd);
  return out;
}

}  // namespace sanpool
