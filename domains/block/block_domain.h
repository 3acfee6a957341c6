// BlockDomain: one oVirt V5 block storage domain (iSCSI/FC) = one LVM VG
// named sdUUID (doc/formats/block-domain.md, reference §2): creating the VG
// and the domain, reading and writing its metadata (MDT_ VG tags), stats,
// extending it with a device, listing images and volumes from LV tags, and
// the volume metadata slots of its `metadata` LV. Volume and image
// operations live in block_volume.h and block_image.h; recovery of
// interrupted operations in BlockVolumes::Recover.
//
// The public API mirrors file_domain::FileDomain (Create / Open / Format /
// GetInfo / GetStats / Validate / GetImages / GetVolumes / ReadMetadata /
// WriteMetadata) so a registry can hold either.
//
//   ASSIGN_OR_RETURN(std::string vg_uuid,
//                    CreateVolumeGroup(lvm, sd_uuid, {"/dev/mapper/36..."}));
//   ASSIGN_OR_RETURN(auto domain, BlockDomain::Create(deps, params));
//
// Special LVs are mapped through the Activator on demand and stay mapped
// (shared) while the BlockDomain lives; slot I/O uses O_DIRECT 512-byte
// aligned reads and writes on the mapped `metadata` LV.
//
// SPM gating is the caller's: Create, WriteMetadata, Extend, Format and the
// slot writes change shared metadata.
// Thread-safety: all methods may be called concurrently; slot writes to
// distinct slots do not interfere (each is its own 512-byte block).
#ifndef SANPOOL_DOMAINS_BLOCK_BLOCK_DOMAIN_H_
#define SANPOOL_DOMAINS_BLOCK_BLOCK_DOMAIN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/activation.h"
#include "domains/block/block_layout.h"
#include "domains/block/block_metadata.h"
#include "domains/block/block_tags.h"
#include "domains/block/lvm_cache.h"
#include "domains/formats/volume_metadata.h"

namespace sanpool::block {

// What every block-domain object needs; all must outlive the domain.
struct BlockDomainDeps {
  Env* env = nullptr;
  Clock* clock = nullptr;
  lvm::LvmCache* lvm = nullptr;
  Activator* activator = nullptr;
};

// LVMVolumeGroup.create: pvcreate (128 MiB metadata area, 2 copies,
// ignored), metadata enabled on the first device only, vgcreate (128 MiB
// extents, tag RHAT_storage_domain_UNREADY, no autoactivation). `devices`
// must hold at least 10 GiB in all (kInvalidArgument 1000). A device that is
// already a PV of some VG is refused (kFailedPrecondition 601) unless
// `force` (which never touches a device of a VG that is a domain: refused
// too). Returns the VG uuid. The lvm errors of each step otherwise (the
// devices may then be PVs without VG: retrying with kYes reuses them).
Result<std::string> CreateVolumeGroup(lvm::LvmCache& lvm,
                                      const std::string& vg_name,
                                      const lvm::DeviceList& devices,
                                      lvm::Force force = lvm::Force::kNo);

struct CreateBlockDomainParams {
  std::string sd_uuid;  // the VG made by CreateVolumeGroup has this name
  DomainType type = DomainType::kIscsi;
  DomainClass domain_class = DomainClass::kData;
  std::string description;  // at most 50 characters
  uint32_t block_size = 512;
  int max_hosts = kMaxHosts;
};

struct BlockDomainInfo {
  std::string uuid;
  DomainType type;
  DomainClass domain_class;
  std::string name;  // DESCRIPTION
  DomainRole role;
  std::vector<std::string> pool;
  int version = kDomainVersion;
  uint32_t block_size = 512;
  uint64_t alignment = 0;
  std::string vg_uuid;
  std::vector<std::string> pv_devices;  // in PV<n> order
};

struct BlockDomainStats {
  uint64_t disk_total = 0;  // VG size, bytes
  uint64_t disk_free = 0;   // VG free, bytes
  uint64_t mda_size = 0;    // VG metadata area
  uint64_t mda_free = 0;
  bool mda_valid = true;      // alert 614 when false
  bool mda_threshold = true;  // alert 613 when false
};

// One volume LV as the tags say.
struct VolumeLv {
  std::string vol_uuid;  // the LV name
  VolumeLvTags tags;
  uint64_t size_bytes = 0;
};

class BlockDomain {
 public:
  ~BlockDomain();
  BlockDomain(const BlockDomain&) = delete;
  BlockDomain& operator=(const BlockDomain&) = delete;

  // StorageDomain.create on the VG named params.sd_uuid (tagged UNREADY by
  // CreateVolumeGroup): special LVs in the reference's order and sizes
  // (metadata first, on the PV with the VG metadata, checked to start at its
  // extent 0), the metadata reserve and mailbox areas zeroed through a
  // mapping, the MDT_ tags written, then UNREADY replaced by
  // RHAT_storage_domain. Errors: kNotFound 506 without the VG;
  // kAlreadyExists 365 when the VG already is a domain (or holds LVs);
  // kFailedPrecondition 351 for a VG without the UNREADY tag;
  // kInvalidArgument for bad params; lvm/dm/I/O errors of the steps (the
  // VG then keeps its UNREADY tag and the special LVs made so far: Format
  // removes it, a retried Create after removing them... is not supported:
  // format and start again).
  static Result<std::unique_ptr<BlockDomain>> Create(
      const BlockDomainDeps& deps, const CreateBlockDomainParams& params);

  // Opens an existing domain: reads the MDT_ tags (cache invalidated first)
  // and checks them (SDUUID = VG name, VGUUID = the VG's uuid).
  // kNotFound 358 without the VG; 364 when it is not (yet) a domain.
  static Result<std::unique_ptr<BlockDomain>> Open(const BlockDomainDeps& deps,
                                                   std::string_view sd_uuid);

  // StorageDomain.format: removes the VG with all its LVs after removing
  // the mappings of its LVs (refused by the dm while any is open). Refused
  // with kFailedPrecondition 391 while attached to a pool.
  static Status Format(const BlockDomainDeps& deps, std::string_view sd_uuid);

  const std::string& sd_uuid() const { return sd_uuid_; }
  const BlockDomainDeps& deps() const { return deps_; }
  uint64_t alignment() const { return alignment_; }

  Result<BlockDomainMetadata> ReadMetadata() const;
  // Replaces the MDT_ tags (one vgchange); SDUUID and VGUUID unchanged.
  Status WriteMetadata(const BlockDomainMetadata& md);

  Result<BlockDomainInfo> GetInfo() const;
  Result<BlockDomainStats> GetStats() const;
  // Metadata sealed and matching the VG, every special LV present, the
  // metadata LV at extent 0 of PV0. kFailedPrecondition 371 otherwise.
  Status Validate() const;
  // StorageDomain.extend: pvcreate + vgextend of `device`, then the new
  // PV<n> entry in the metadata.
  Status Extend(const std::string& device, lvm::Force force = lvm::Force::kNo);

  // Image UUIDs of ready volumes (sorted, unique).
  Result<std::vector<std::string>> GetImages() const;
  // Volumes of an image (IU_ tag), plus a template parent from another
  // image, sorted. kNotFound 268 when the image has none.
  Result<std::vector<std::string>> GetVolumes(std::string_view img) const;
  // Every non-special LV with its parsed tags (unparsable ones skipped with
  // a warning: they are not volumes of this domain).
  Result<std::vector<VolumeLv>> ListVolumeLvs() const;

  // The device path of a special LV, mapping it (shared) on first use.
  Result<std::string> SpecialLvPath(SpecialLv lv);

  // Volume metadata slots (block_metadata.h), through the metadata LV.
  Result<formats::VolumeMetadata> ReadSlot(int slot);
  Status WriteSlot(int slot, const formats::VolumeMetadata& md);
  Status ClearSlot(int slot);
  // Raw bytes of slots kFirstVolumeSlot..kLastVolumeSlot in one read, each
  // 512 bytes, indexed by slot - kFirstVolumeSlot.
  Result<std::vector<std::string>> ReadAllSlots();

 private:
  BlockDomain(BlockDomainDeps deps, std::string sd_uuid, uint64_t alignment);
  Status WriteSlotBytes(int slot, const std::string& bytes);

  BlockDomainDeps deps_;
  const std::string sd_uuid_;
  const uint64_t alignment_;
  Mutex mu_;
  std::map<SpecialLv, std::string> mapped_ GUARDED_BY(mu_);
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_BLOCK_DOMAIN_H_
