// Activator: maps LVs of block domains through the agent's own
// device-mapper layer (DESIGN.md "Device-mapper: the agent owns activation").
// LVM is never asked to activate anything: an LV's linear table is built
// from its `lvs` segments and the PVs' pe_start (LvmCache::GetLinearTable,
// dm_names naming) and created or reloaded through a dm::DeviceMapper.
//
// Activation is reference-counted per LV on this host:
//   kShared     readers (backing volumes of prepared chains, metadata I/O);
//               any number at once.
//   kExclusive  one writer (the top volume of a prepared image, a volume
//               being created or zeroed); refused while another exclusive
//               holder exists (kFailedPrecondition). Shared holders may
//               coexist with it: readers of a chain never write.
// The mapping is created by the first Activate and removed when the last
// reference is released. A mapping that already exists when the first
// reference is taken (left by an earlier agent run: mappings outlive the
// agent) is adopted: its table is reloaded from the current segments.
//
// Refresh(vg, lv) reloads the table after an lvextend (on any host: the
// SPM's extend, then every host that has the LV mapped). It is a no-op,
// without an lvm command, for an LV that is not mapped here.
//
// RemoveStale() is called once at agent start: mappings of the given VGs
// that nothing here references are removed; ones still open (a running VM
// keeps its disk open across an agent restart) are kept and reported.
//
// Removing a mapping (last Deactivate, ForceDeactivate) retries while the
// device is open, up to ActivatorOptions::busy_retries times: udev, blkid or
// a scanning lvm on the host open a new or changed block device for a moment
// (lvm2 does the same: lvm.conf retry_deactivation). A device still open
// after that is reported (kFailedPrecondition), as before. The waits run
// without the Activator's lock: other LVs are activated, refreshed and
// released meanwhile; an Activate or ForceDeactivate of the LV being
// removed waits for the removal to end.
//
// Errors: those of LvmCache (kNotFound 610 for a missing LV) and of
// DeviceMapper. A failed create leaves no reference.
// Blocking: lvm reports and dm calls. Thread-safety: all methods may be
// called from any thread; calls on the same LV are serialized here.
#ifndef SANPOOL_DOMAINS_BLOCK_ACTIVATION_H_
#define SANPOOL_DOMAINS_BLOCK_ACTIVATION_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/resource_locks.h"
#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/lvm_cache.h"
#include "domains/dm/device_mapper.h"

namespace sanpool::block {

struct StaleMappings {
  std::vector<std::string> removed;  // dm names
  std::vector<std::string> busy;     // still open: kept
};

struct ActivatorOptions {
  // Removal attempts after the first one finds the device open.
  int busy_retries = 20;
  // Called between attempts, without the Activator's lock; default: sleeps
  // 50 ms (so a device held for more than ~1 s is reported busy).
  std::function<void()> busy_wait;
};

class Activator {
 public:
  // `lvm` and `dm` must outlive the Activator.
  Activator(lvm::LvmCache& lvm, dm::DeviceMapper& dm,
            ActivatorOptions options = {});

  // Takes a reference in `mode`, mapping the LV if this is the first one.
  // Returns the device path.
  Result<std::string> Activate(const std::string& vg, const std::string& lv,
                               LockMode mode) EXCLUDES(mu_);
  // Drops a reference taken in `mode`; the last one removes the mapping
  // (kFailedPrecondition from the dm when something outside still holds it
  // open: the reference is dropped anyway, the mapping stays). Releasing a
  // reference that is not held is OK (idempotent teardown).
  Status Deactivate(const std::string& vg, const std::string& lv,
                    LockMode mode) EXCLUDES(mu_);
  // Removes the mapping whatever the references (LV removal, domain
  // format); refused by the dm while open. Missing mapping: OK.
  Status ForceDeactivate(const std::string& vg, const std::string& lv)
      EXCLUDES(mu_);
  // Reloads the table of a mapped LV from its current segments. With
  // kMayBeStale (another host extended the LV) the VG's LVs are re-read
  // from lvm first; kFresh is for the host whose LvmCache made the change.
  enum class CacheState { kMayBeStale, kFresh };
  Status Refresh(const std::string& vg, const std::string& lv,
                 CacheState cache = CacheState::kMayBeStale) EXCLUDES(mu_);

  // Removes unreferenced mappings of `vgs` (see above).
  Result<StaleMappings> RemoveStale(const std::set<std::string>& vgs)
      EXCLUDES(mu_);

  // The device path of vg/lv (pure; the LV may not be mapped).
  Result<std::string> DevicePath(const std::string& vg,
                                 const std::string& lv) const;
  // Whether this host holds any reference on vg/lv.
  bool IsActive(const std::string& vg, const std::string& lv) const
      EXCLUDES(mu_);

 private:
  struct Refs {
    int shared = 0;
    bool exclusive = false;
    int Count() const { return shared + (exclusive ? 1 : 0); }
  };
  Result<dm::Table> TableOf(const std::string& vg, const std::string& lv);
  Status Map(const std::string& vg, const std::string& lv) REQUIRES(mu_);
  // dm Remove, retried while the device is open (transient openers); mu_
  // is released during each wait, with `name` in removing_.
  Status RemoveWaitingForOpeners(const std::string& name) REQUIRES(mu_);
  // Waits while `name` is in removing_.
  void AwaitRemoval(const std::string& name) REQUIRES(mu_);

  lvm::LvmCache& lvm_;
  dm::DeviceMapper& dm_;
  ActivatorOptions options_;
  // One lock for all mapping changes: they are fast (one dm call) next to
  // the lvm reports, which run before it is taken where possible.
  mutable Mutex mu_;
  std::map<std::string, Refs> refs_ GUARDED_BY(mu_);  // by dm name
  // Mappings whose removal waits for openers (mu_ released meanwhile).
  std::set<std::string> removing_ GUARDED_BY(mu_);
  CondVar removal_done_;
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_ACTIVATION_H_
