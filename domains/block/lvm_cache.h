// LvmCache: what the agent knows about PVs, VGs and LVs, and the one way it
// changes them. It wraps an Lvm (domains/block/lvm.h) with
//  * a cache of VGs (by name), LVs (by VG, then name) and PVs (by device),
//    filled from reports and invalidated by every change made through it,
//    at the granularity of oVirt's lvm.LVMCache (reference §2.7):
//      lvcreate          the VG, the VG's LV list, the PVs
//      lvextend/reduce   the VG, that LV, the PVs
//      lvremove          the VG, those LVs (dropped), the PVs
//      lvrename          the VG's LV list (both names)
//      lvchange tags/rw  that LV only
//      vgchange tags     the VG only
//      vgcreate/extend/remove, pvcreate/pvchange/pvresize  everything of
//                        that VG and the PVs
//    A failed change invalidates the same things: lvm may have committed
//    part of it.
//  * single-flight reloads: concurrent misses on one VG's LVs run one
//    `lvs <vg>`; on one VG one `vgs <vg>`; on PVs one `pvs`. A reload that
//    started before an invalidation never stores what it read as fresh, and
//    a caller arriving after an invalidation never joins such a reload.
//  * at most `max_concurrent_commands` lvm processes at once (oVirt's
//    MAX_COMMANDS = 10); further callers wait for a slot.
//
// Every command scans exactly the devices set with SetDevices (the SAN
// devices the agent connected: multipath maps, or loop devices on the rig).
//
// LV reloads are per VG: a miss on one LV runs `lvs <vg>` and refreshes
// every LV of the VG that was not invalidated meanwhile (one process
// instead of one per LV; on the SPM a VG's LV list is needed anyway).
//
// Errors: those of Lvm; GetLv of an LV not in the VG is kNotFound (610),
// GetVg of a missing VG kNotFound (506). Errors are not cached: the next
// call retries.
//
// Blocking: reads block when they miss (an lvm run, or waiting for the
// reload another thread started) and changes always; call from workers.
// Thread-safety: all methods may be called from any thread.
#ifndef SANPOOL_DOMAINS_BLOCK_LVM_CACHE_H_
#define SANPOOL_DOMAINS_BLOCK_LVM_CACHE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/lvm.h"

namespace sanpool::lvm {

struct LvmCacheOptions {
  // Bound on concurrently running lvm processes. REQUIRES: >= 1.
  int max_concurrent_commands = 10;
};

struct LvmCacheStats {
  uint64_t hits = 0;     // Reads answered from the cache.
  uint64_t misses = 0;   // Reads that needed a reload (own or joined).
  uint64_t reloads = 0;  // Report commands run.
  uint64_t changes = 0;  // Changing commands run (a batch counts once).
  uint64_t batch_fallbacks = 0;  // LvExtendMany batches run one by one.
};

class LvmCache {
 public:
  // `lvm` must outlive the cache.
  LvmCache(Lvm& lvm, LvmCacheOptions options);
  ~LvmCache();
  LvmCache(const LvmCache&) = delete;
  LvmCache& operator=(const LvmCache&) = delete;

  // The devices every command may scan. Replacing them drops the cache.
  void SetDevices(DeviceList devices) EXCLUDES(mu_);
  DeviceList Devices() const EXCLUDES(mu_);

  // --- Reads ---------------------------------------------------------------
  Result<Vg> GetVg(const std::string& vg) EXCLUDES(mu_);
  Result<Lv> GetLv(const std::string& vg, const std::string& lv)
      EXCLUDES(mu_);
  // Every LV of `vg`, sorted by name.
  Result<std::vector<Lv>> GetAllLvs(const std::string& vg) EXCLUDES(mu_);
  // Every PV on the devices, sorted by device name.
  Result<std::vector<Pv>> GetPvs() EXCLUDES(mu_);
  // The dm linear table of vg/lv (LinearTable over GetLv and the PVs'
  // layout: the last PV list read, even when LV changes have invalidated
  // it since, as pe_start never changes; the PVs are read again once when
  // a segment names a PV not in that list).
  Result<std::vector<LinearTarget>> GetLinearTable(const std::string& vg,
                                                   const std::string& lv)
      EXCLUDES(mu_);

  // --- Changes (run lvm, then invalidate; see the table above) -------------
  Status PvCreate(const PvCreateSpec& spec) EXCLUDES(mu_);
  Status PvChangeMetadataIgnore(const std::string& pv, MetadataIgnore ignore)
      EXCLUDES(mu_);
  Status PvResize(const std::string& pv) EXCLUDES(mu_);
  Status VgCreate(const VgCreateSpec& spec) EXCLUDES(mu_);
  Status VgExtend(const std::string& vg, const DeviceList& new_pvs)
      EXCLUDES(mu_);
  Status VgChangeTags(const std::string& vg, const TagChange& change)
      EXCLUDES(mu_);
  Status VgRemove(const std::string& vg) EXCLUDES(mu_);
  Status LvCreate(const LvCreateSpec& spec) EXCLUDES(mu_);
  // Idempotent: when the LV already has at least `size`, OK (lvm itself
  // refuses such an extend; the cache then re-reads the LV to decide).
  Status LvExtend(const std::string& vg, const std::string& lv, LvSize size)
      EXCLUDES(mu_);
  // Many LvExtends of `vg` with one lvm process (the SPM's extend batches):
  // each item as LvExtend (absolute, idempotent), but LVs the cache shows
  // at or above their size (one `lvs <vg>` on a miss) succeed without a
  // command, and the rest run under ONE command slot as one
  // Lvm::LvExtendMany. When that fails as a whole (lvm shell protocol,
  // process died, timeout) it is logged and the batch falls back to
  // LvExtend per remaining LV. One invalidation for the batch (the VG,
  // those LVs, the PVs). Returns one Status per item, in order.
  std::vector<Status> LvExtendMany(const std::string& vg,
                                   const std::vector<LvExtendItem>& items)
      EXCLUDES(mu_);
  Status LvReduce(const std::string& vg, const std::string& lv, LvSize size)
      EXCLUDES(mu_);
  Status LvRemove(const std::string& vg, const std::vector<std::string>& lvs)
      EXCLUDES(mu_);
  Status LvChangeTags(const std::string& vg, const std::string& lv,
                      const TagChange& change) EXCLUDES(mu_);
  Status LvChangePermission(const std::string& vg, const std::string& lv,
                            Permission permission) EXCLUDES(mu_);
  Status LvRename(const std::string& vg, const std::string& from,
                  const std::string& to) EXCLUDES(mu_);

  // --- Explicit invalidation (changes made elsewhere, e.g. by another SPM,
  // or domain metadata reads that must see the storage) ----------------------
  void InvalidateVg(const std::string& vg) EXCLUDES(mu_);
  void InvalidateLvs(const std::string& vg) EXCLUDES(mu_);
  void InvalidateAll() EXCLUDES(mu_);

  LvmCacheStats Stats() const EXCLUDES(mu_);

 private:
  // Generation numbers order invalidations against reloads: every
  // invalidation takes ++gen_ and stamps what it invalidated; a reload that
  // started at generation G stores an entry only if the entry was not
  // invalidated after G.
  struct LvEntry {
    std::optional<Lv> lv;  // nullopt: stale.
    uint64_t invalidated_at = 0;
  };
  struct VgLvs {
    std::map<std::string, LvEntry> lvs;
    bool complete = false;  // `lvs` holds every LV of the VG.
    uint64_t list_invalidated_at = 0;
    uint64_t last_invalidated_at = 0;  // Of the list or any entry.
  };
  struct VgEntry {
    std::optional<Vg> vg;
    uint64_t invalidated_at = 0;
  };
  template <typename T>
  struct Flight;
  template <typename T>
  using FlightMap = std::map<std::string, std::shared_ptr<Flight<T>>>;
  template <typename T>
  struct Loaded {
    Result<T> result;
    // Set when this caller ran the reload (then it stores the result): the
    // generation the reload started at.
    std::optional<uint64_t> started_at;
  };
  class Semaphore;

  // Runs `load(devices)` as the one reload of `key`, or waits for a reload
  // another caller started no earlier than `relevant_gen` (the last
  // invalidation of what the caller wants).
  template <typename T, typename Load>
  Loaded<T> SingleFlight(FlightMap<T>& flights, const std::string& key,
                         uint64_t relevant_gen, Load load) REQUIRES(mu_);

  Result<std::vector<Lv>> LoadLvs(const std::string& vg) REQUIRES(mu_);
  Result<std::vector<Pv>> LoadPvs() REQUIRES(mu_);
  void StoreLvs(const std::string& vg, const std::vector<Lv>& lvs,
                uint64_t started_at) REQUIRES(mu_);

  // `refused` (an extend's result), or OK when it is lvm's "would not
  // grow" refusal and vg/lv already has at least `size` (one lvs).
  Status AcceptIfReached(const std::string& vg, const std::string& lv,
                         LvSize size, Status refused) EXCLUDES(mu_);

  // Runs one changing command under a command slot with the devices.
  template <typename Change>
  Status RunChange(Change change) EXCLUDES(mu_);

  void InvalidateVgLocked(const std::string& vg) REQUIRES(mu_);
  void InvalidateLvLocked(const std::string& vg, const std::string& lv)
      REQUIRES(mu_);
  void InvalidateLvListLocked(const std::string& vg) REQUIRES(mu_);
  void DropLvLocked(const std::string& vg, const std::string& lv)
      REQUIRES(mu_);
  void InvalidatePvsLocked() REQUIRES(mu_);
  void InvalidateEverythingOfVgLocked(const std::string& vg) REQUIRES(mu_);

  Lvm& lvm_;
  const LvmCacheOptions options_;
  std::unique_ptr<Semaphore> slots_;

  mutable Mutex mu_;
  CondVar flight_done_;
  DeviceList devices_ GUARDED_BY(mu_);
  uint64_t gen_ GUARDED_BY(mu_) = 0;
  std::map<std::string, VgEntry> vgs_ GUARDED_BY(mu_);
  std::map<std::string, VgLvs> lvs_ GUARDED_BY(mu_);
  std::optional<std::vector<Pv>> pvs_ GUARDED_BY(mu_);
  // The last PV list read, kept when pvs_ is invalidated by LV changes
  // (free counts) for GetLinearTable, which needs only names and pe_start;
  // dropped by SetDevices, PvCreate and a segment naming an unknown PV.
  std::optional<std::vector<Pv>> pv_layout_ GUARDED_BY(mu_);
  uint64_t pvs_invalidated_at_ GUARDED_BY(mu_) = 0;
  FlightMap<Vg> vg_flights_ GUARDED_BY(mu_);
  FlightMap<std::vector<Lv>> lv_flights_ GUARDED_BY(mu_);
  FlightMap<std::vector<Pv>> pv_flights_ GUARDED_BY(mu_);
  LvmCacheStats stats_ GUARDED_BY(mu_);
};

}  // namespace sanpool::lvm

#endif  // SANPOOL_DOMAINS_BLOCK_LVM_CACHE_H_
