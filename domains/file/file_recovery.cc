// FileDomain::RecoverDomain(): the roll-back / roll-forward rules of the
// crash-safety protocol described in file_domain.h and file_volume.h.
#include <map>
#include <set>

#include "base/log.h"
#include "base/uuid.h"
#include "domains/file/file_domain.h"
#include "domains/file/fs_util.h"
#include "domains/volume_chain.h"

namespace sanpool::file_domain {
namespace {

using formats::Legality;
using formats::VolumeMetadata;
using formats::VolumeRole;

struct ImageScan {
  std::set<std::string> data, meta, lease;
  std::vector<std::string> temps;
};

}  // namespace

Result<RecoveryReport> FileDomain::RecoverDomain() {
  RecoveryReport report;
  const std::string images_dir = layout_.images_dir();
  auto rel = [&](const std::string& path) {
    return path.substr(layout_.domain_dir().size() + 1);
  };

  // Interrupted metadata writes in dom_md/.
  ASSIGN_OR_RETURN(std::vector<std::string> md_names,
                   env_.ListDir(layout_.metadata_dir()));
  for (const std::string& name : md_names) {
    if (!IsAtomicWriteTemp(name)) continue;
    std::string path = JoinPath(layout_.metadata_dir(), name);
    RETURN_IF_ERROR(RemoveIfExists(env_, path));
    report.removed.push_back(rel(path));
  }

  ASSIGN_OR_RETURN(std::vector<std::string> names, env_.ListDir(images_dir));
  for (const std::string& name : names) {
    std::string dir = JoinPath(images_dir, name);
    if (name.starts_with(kRemovedImagePrefix) &&
        IsValidUuid(name.substr(kRemovedImagePrefix.size()))) {
      RETURN_IF_ERROR(RemoveTree(env_, dir));
      report.removed.push_back(rel(dir));
      continue;
    }
    if (!IsValidUuid(name)) continue;  // foreign entries are left alone

    ImageScan scan;
    ASSIGN_OR_RETURN(std::vector<std::string> entries, env_.ListDir(dir));
    for (const std::string& entry : entries) {
      if (IsAtomicWriteTemp(entry)) {
        scan.temps.push_back(entry);
        continue;
      }
      VolumeEntry e = ClassifyVolumeEntry(entry);
      if (e.kind == VolumeEntryKind::kData) scan.data.insert(e.vol_uuid);
      if (e.kind == VolumeEntryKind::kMeta) scan.meta.insert(e.vol_uuid);
      if (e.kind == VolumeEntryKind::kLease) scan.lease.insert(e.vol_uuid);
    }
    for (const std::string& temp : scan.temps) {
      RETURN_IF_ERROR(RemoveIfExists(env_, JoinPath(dir, temp)));
      report.removed.push_back(rel(JoinPath(dir, temp)));
    }
    // Uncommitted creates: data (and maybe lease) without .meta.
    for (const std::string& vol : scan.data) {
      if (scan.meta.contains(vol)) continue;
      ASSIGN_OR_RETURN(VolumePaths p, layout_.Volume(name, vol));
      RETURN_IF_ERROR(RemoveIfExists(env_, p.data));
      report.removed.push_back(rel(p.data));
    }
    for (const std::string& vol : scan.lease) {
      if (scan.meta.contains(vol)) continue;
      ASSIGN_OR_RETURN(VolumePaths p, layout_.Volume(name, vol));
      RETURN_IF_ERROR(RemoveIfExists(env_, p.lease));
      report.removed.push_back(rel(p.lease));
    }
    // Committed volumes.
    std::map<std::string, VolumeMetadata> live;
    for (const std::string& vol : scan.meta) {
      ASSIGN_OR_RETURN(VolumePaths p, layout_.Volume(name, vol));
      Result<VolumeMetadata> md = ReadVolumeMeta(env_, p.meta);
      if (!md.ok()) {
        report.problems.push_back(rel(p.meta) + ": " +
                                  std::string(md.status().message()));
        continue;
      }
      if (!scan.data.contains(vol)) {
        if (md->legality == Legality::kIllegal) {
          // A delete that removed the data but not yet the .meta.
          RETURN_IF_ERROR(RemoveIfExists(env_, p.lease));
          RETURN_IF_ERROR(RemoveIfExists(env_, p.meta));
          report.removed.push_back(rel(p.meta));
        } else {
          report.problems.push_back(rel(p.data) + ": data file missing");
        }
        continue;
      }
      if (!scan.lease.contains(vol)) {
        RETURN_IF_ERROR(env_.WriteFile(
            p.lease, "",
            {FileCreation::kExclusive, Durability::kNoSync, kVolumeFileMode}));
        report.repaired.push_back(rel(p.lease));
      }
      live.emplace(vol, std::move(*md));
    }
    // Roles: INTERNAL iff a volume of this image has it as parent (templates
    // keep SHARED).
    const std::map<std::string, VolumeRole> roles = ExpectedRoles(live);
    for (auto& [vol, md] : live) {
      VolumeRole want = roles.at(vol);
      if (md.role == want) continue;
      md.role = want;
      ASSIGN_OR_RETURN(VolumePaths p, layout_.Volume(name, vol));
      RETURN_IF_ERROR(WriteVolumeMeta(env_, p.meta, md));
      report.repaired.push_back(rel(p.meta));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> left, env_.ListDir(dir));
    if (left.empty()) {
      RETURN_IF_ERROR(env_.RemoveDir(dir));
      report.removed.push_back(rel(dir));
    } else {
      RETURN_IF_ERROR(env_.SyncDir(dir));
    }
  }
  RETURN_IF_ERROR(env_.SyncDir(images_dir));
  if (!report.removed.empty() || !report.repaired.empty() ||
      !report.problems.empty()) {
    log::Warning("file-domain", "recovered domain",
                 {{"sd", layout_.sd_uuid()},
                  {"removed", report.removed.size()},
                  {"repaired", report.repaired.size()},
                  {"problems", report.problems.size()}});
  }
  return report;
}

}  // namespace sanpool::file_domain
