#include "domains/block/lvm_cache.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "base/log.h"

namespace sanpool::lvm {

// A counting semaphore bounding concurrent lvm processes.
class LvmCache::Semaphore {
 public:
  explicit Semaphore(int count) : free_(count) {}

  void Acquire() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    while (free_ == 0) cv_.Wait(mu_);
    --free_;
  }
  void Release() EXCLUDES(mu_) {
    MutexLock lock(mu_);
    ++free_;
    cv_.Signal();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  int free_ GUARDED_BY(mu_);
};

namespace {

template <typename Sem>
class SlotGuard {
 public:
  explicit SlotGuard(Sem& sem) : sem_(sem) { sem_.Acquire(); }
  ~SlotGuard() { sem_.Release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  Sem& sem_;
};

}  // namespace

template <typename T>
struct LvmCache::Flight {
  uint64_t started_at = 0;
  bool done = false;
  std::optional<Result<T>> result;
};

LvmCache::LvmCache(Lvm& lvm, LvmCacheOptions options)
    : lvm_(lvm),
      options_(options),
      slots_(std::make_unique<Semaphore>(
          std::max(1, options.max_concurrent_commands))) {
  assert(options.max_concurrent_commands >= 1);
}

LvmCache::~LvmCache() = default;

void LvmCache::SetDevices(DeviceList devices) {
  MutexLock lock(mu_);
  devices_ = std::move(devices);
  ++gen_;
  vgs_.clear();
  lvs_.clear();
  pvs_.reset();
  pv_layout_.reset();
  pvs_invalidated_at_ = gen_;
}

DeviceList LvmCache::Devices() const {
  MutexLock lock(mu_);
  return devices_;
}

LvmCacheStats LvmCache::Stats() const {
  MutexLock lock(mu_);
  return stats_;
}

template <typename T, typename Load>
LvmCache::Loaded<T> LvmCache::SingleFlight(FlightMap<T>& flights,
                                           const std::string& key,
                                           uint64_t relevant_gen, Load load) {
  ++stats_.misses;
  auto it = flights.find(key);
  if (it != flights.end() && it->second->started_at >= relevant_gen) {
    std::shared_ptr<Flight<T>> flight = it->second;
    while (!flight->done) flight_done_.Wait(mu_);
    return Loaded<T>{*flight->result, std::nullopt};
  }
  auto flight = std::make_shared<Flight<T>>();
  flight->started_at = gen_;
  flights[key] = flight;
  const DeviceList devices = devices_;
  ++stats_.reloads;
  mu_.Unlock();
  Result<T> result = [&]() -> Result<T> {
    SlotGuard<Semaphore> slot(*slots_);
    return load(devices);
  }();
  mu_.Lock();
  flight->result = result;
  flight->done = true;
  auto cur = flights.find(key);
  if (cur != flights.end() && cur->second == flight) flights.erase(cur);
  flight_done_.SignalAll();
  return Loaded<T>{std::move(result), flight->started_at};
}

// --- Reads -------------------------------------------------------------------

Result<Vg> LvmCache::GetVg(const std::string& vg) {
  MutexLock lock(mu_);
  auto it = vgs_.find(vg);
  if (it != vgs_.end() && it->second.vg) {
    ++stats_.hits;
    return *it->second.vg;
  }
  const uint64_t relevant = it == vgs_.end() ? 0 : it->second.invalidated_at;
  Loaded<Vg> loaded = SingleFlight(
      vg_flights_, vg, relevant,
      [&](const DeviceList& devices) { return lvm_.GetVg(devices, vg); });
  if (loaded.started_at && loaded.result.ok()) {
    VgEntry& entry = vgs_[vg];
    if (entry.invalidated_at <= *loaded.started_at) {
      entry.vg = loaded.result.value();
    }
  }
  return std::move(loaded.result);
}

Result<std::vector<Lv>> LvmCache::LoadLvs(const std::string& vg) {
  auto it = lvs_.find(vg);
  const uint64_t relevant =
      it == lvs_.end() ? 0 : it->second.last_invalidated_at;
  Loaded<std::vector<Lv>> loaded = SingleFlight(
      lv_flights_, vg, relevant,
      [&](const DeviceList& devices) { return lvm_.Lvs(devices, vg); });
  if (loaded.started_at && loaded.result.ok()) {
    StoreLvs(vg, loaded.result.value(), *loaded.started_at);
  }
  return std::move(loaded.result);
}

void LvmCache::StoreLvs(const std::string& vg, const std::vector<Lv>& lvs,
                        uint64_t started_at) {
  VgLvs& entry = lvs_[vg];
  std::set<std::string> seen;
  for (const Lv& lv : lvs) {
    seen.insert(lv.name);
    LvEntry& e = entry.lvs[lv.name];
    if (e.invalidated_at <= started_at) e.lv = lv;
  }
  for (auto it = entry.lvs.begin(); it != entry.lvs.end();) {
    if (!seen.contains(it->first) && it->second.invalidated_at <= started_at) {
      it = entry.lvs.erase(it);
    } else {
      ++it;
    }
  }
  entry.complete = entry.list_invalidated_at <= started_at;
}

Result<Lv> LvmCache::GetLv(const std::string& vg, const std::string& lv) {
  MutexLock lock(mu_);
  auto vit = lvs_.find(vg);
  if (vit != lvs_.end()) {
    auto lit = vit->second.lvs.find(lv);
    if (lit != vit->second.lvs.end() && lit->second.lv) {
      ++stats_.hits;
      return *lit->second.lv;
    }
  }
  ASSIGN_OR_RETURN(std::vector<Lv> all, LoadLvs(vg));
  for (Lv& l : all) {
    if (l.name == lv) return std::move(l);
  }
  return Status(Code::kNotFound, "LV " + vg + "/" + lv + " not found",
                lvm_code::kLogicalVolumeDoesNotExist);
}

Result<std::vector<Lv>> LvmCache::GetAllLvs(const std::string& vg) {
  MutexLock lock(mu_);
  auto vit = lvs_.find(vg);
  if (vit != lvs_.end() && vit->second.complete &&
      std::all_of(vit->second.lvs.begin(), vit->second.lvs.end(),
                  [](const auto& kv) { return kv.second.lv.has_value(); })) {
    ++stats_.hits;
    std::vector<Lv> out;
    out.reserve(vit->second.lvs.size());
    for (const auto& [name, e] : vit->second.lvs) out.push_back(*e.lv);
    return out;
  }
  ASSIGN_OR_RETURN(std::vector<Lv> all, LoadLvs(vg));
  std::sort(all.begin(), all.end(),
            [](const Lv& a, const Lv& b) { return a.name < b.name; });
  return all;
}

Result<std::vector<Pv>> LvmCache::LoadPvs() {
  Loaded<std::vector<Pv>> loaded = SingleFlight(
      pv_flights_, "", pvs_invalidated_at_,
      [&](const DeviceList& devices) { return lvm_.Pvs(devices); });
  if (loaded.started_at && loaded.result.ok() &&
      pvs_invalidated_at_ <= *loaded.started_at) {
    pvs_ = loaded.result.value();
    pv_layout_ = pvs_;
  }
  return std::move(loaded.result);
}

Result<std::vector<Pv>> LvmCache::GetPvs() {
  MutexLock lock(mu_);
  if (pvs_) {
    ++stats_.hits;
    return *pvs_;
  }
  ASSIGN_OR_RETURN(std::vector<Pv> pvs, LoadPvs());
  std::sort(pvs.begin(), pvs.end(),
            [](const Pv& a, const Pv& b) { return a.name < b.name; });
  return pvs;
}

Result<std::vector<LinearTarget>> LvmCache::GetLinearTable(
    const std::string& vg, const std::string& lv) {
  ASSIGN_OR_RETURN(Lv l, GetLv(vg, lv));
  // A table needs only each PV's name and pe_start, which LV changes leave
  // alone: after an lvextend (free counts changed, pvs_ invalidated) the
  // last layout read still serves, and the extend costs no `pvs`.
  std::optional<std::vector<Pv>> layout;
  {
    MutexLock lock(mu_);
    layout = pvs_ ? pvs_ : pv_layout_;
    if (layout) ++stats_.hits;
  }
  std::vector<Pv> pvs;
  if (layout) {
    pvs = std::move(*layout);
  } else {
    ASSIGN_OR_RETURN(pvs, GetPvs());
  }
  Result<std::vector<LinearTarget>> table = LinearTable(l, pvs);
  if (table.ok() || table.status().code() != Code::kNotFound) return table;
  // A PV this cache has not seen: another host made or extended the VG
  // after our last pvs. Read the PVs again, once.
  {
    MutexLock lock(mu_);
    InvalidatePvsLocked();
    pv_layout_.reset();
  }
  ASSIGN_OR_RETURN(pvs, GetPvs());
  return LinearTable(l, pvs);
}

// --- Invalidation --------------------------------------------------------------

void LvmCache::InvalidateVgLocked(const std::string& vg) {
  VgEntry& e = vgs_[vg];
  e.vg.reset();
  e.invalidated_at = ++gen_;
}

void LvmCache::InvalidateLvLocked(const std::string& vg,
                                  const std::string& lv) {
  VgLvs& v = lvs_[vg];
  LvEntry& e = v.lvs[lv];
  e.lv.reset();
  e.invalidated_at = ++gen_;
  v.last_invalidated_at = e.invalidated_at;
}

void LvmCache::InvalidateLvListLocked(const std::string& vg) {
  VgLvs& v = lvs_[vg];
  v.complete = false;
  v.list_invalidated_at = ++gen_;
  v.last_invalidated_at = v.list_invalidated_at;
}

void LvmCache::DropLvLocked(const std::string& vg, const std::string& lv) {
  // The stale entry stays until a reload that started after this finds the
  // LV gone; a read meanwhile reloads.
  InvalidateLvLocked(vg, lv);
  InvalidateLvListLocked(vg);
}

void LvmCache::InvalidatePvsLocked() {
  pvs_.reset();
  pvs_invalidated_at_ = ++gen_;
}

void LvmCache::InvalidateEverythingOfVgLocked(const std::string& vg) {
  InvalidateVgLocked(vg);
  VgLvs& v = lvs_[vg];
  const uint64_t stamp = ++gen_;
  for (auto& [name, e] : v.lvs) {
    e.lv.reset();
    e.invalidated_at = stamp;
  }
  v.complete = false;
  v.list_invalidated_at = stamp;
  v.last_invalidated_at = stamp;
  InvalidatePvsLocked();
}

void LvmCache::InvalidateVg(const std::string& vg) {
  MutexLock lock(mu_);
  InvalidateVgLocked(vg);
}

void LvmCache::InvalidateLvs(const std::string& vg) {
  MutexLock lock(mu_);
  VgLvs& v = lvs_[vg];
  const uint64_t stamp = ++gen_;
  for (auto& [name, e] : v.lvs) {
    e.lv.reset();
    e.invalidated_at = stamp;
  }
  v.complete = false;
  v.list_invalidated_at = stamp;
  v.last_invalidated_at = stamp;
}

void LvmCache::InvalidateAll() {
  MutexLock lock(mu_);
  // Stamping every known entry keeps in-flight reloads from storing.
  for (auto& [name, e] : vgs_) {
    (void)e;
    InvalidateVgLocked(name);
  }
  std::vector<std::string> vgs;
  for (const auto& [name, v] : lvs_) vgs.push_back(name);
  for (const std::string& vg : vgs) InvalidateEverythingOfVgLocked(vg);
  InvalidatePvsLocked();
}

// --- Changes -----------------------------------------------------------------

template <typename Change>
Status LvmCache::RunChange(Change change) {
  DeviceList devices;
  {
    MutexLock lock(mu_);
    devices = devices_;
    ++stats_.changes;
  }
  SlotGuard<Semaphore> slot(*slots_);
  return change(devices);
}

Status LvmCache::PvCreate(const PvCreateSpec& spec) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.PvCreate(d, spec); });
  MutexLock lock(mu_);
  InvalidatePvsLocked();
  pv_layout_.reset();  // pvcreate -ff may re-create a PV with another layout
  return s;
}

Status LvmCache::PvChangeMetadataIgnore(const std::string& pv,
                                        MetadataIgnore ignore) {
  Status s = RunChange([&](const DeviceList& d) {
    return lvm_.PvChangeMetadataIgnore(d, pv, ignore);
  });
  MutexLock lock(mu_);
  InvalidatePvsLocked();
  // The VG's mda size/free change with its used metadata areas.
  for (auto& [name, e] : vgs_) {
    (void)e;
    InvalidateVgLocked(name);
  }
  return s;
}

Status LvmCache::PvResize(const std::string& pv) {
  Status s =
      RunChange([&](const DeviceList& d) { return lvm_.PvResize(d, pv); });
  MutexLock lock(mu_);
  InvalidatePvsLocked();
  for (auto& [name, e] : vgs_) {
    (void)e;
    InvalidateVgLocked(name);
  }
  return s;
}

Status LvmCache::VgCreate(const VgCreateSpec& spec) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.VgCreate(d, spec); });
  MutexLock lock(mu_);
  InvalidateEverythingOfVgLocked(spec.name);
  return s;
}

Status LvmCache::VgExtend(const std::string& vg, const DeviceList& new_pvs) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.VgExtend(d, vg, new_pvs); });
  MutexLock lock(mu_);
  InvalidateEverythingOfVgLocked(vg);
  return s;
}

Status LvmCache::VgChangeTags(const std::string& vg, const TagChange& change) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.VgChangeTags(d, vg, change); });
  MutexLock lock(mu_);
  InvalidateVgLocked(vg);
  return s;
}

Status LvmCache::VgRemove(const std::string& vg) {
  Status s =
      RunChange([&](const DeviceList& d) { return lvm_.VgRemove(d, vg); });
  MutexLock lock(mu_);
  InvalidateEverythingOfVgLocked(vg);
  return s;
}

Status LvmCache::LvCreate(const LvCreateSpec& spec) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.LvCreate(d, spec); });
  MutexLock lock(mu_);
  InvalidateVgLocked(spec.vg);
  InvalidateLvLocked(spec.vg, spec.name);
  InvalidateLvListLocked(spec.vg);
  InvalidatePvsLocked();
  return s;
}

Status LvmCache::LvExtend(const std::string& vg, const std::string& lv,
                          LvSize size) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.LvExtend(d, vg, lv, size); });
  {
    MutexLock lock(mu_);
    InvalidateVgLocked(vg);
    InvalidateLvLocked(vg, lv);
    InvalidatePvsLocked();
  }
  return AcceptIfReached(vg, lv, size, std::move(s));
}

Status LvmCache::AcceptIfReached(const std::string& vg, const std::string& lv,
                                 LvSize size, Status refused) {
  if (refused.code() != Code::kFailedPrecondition) return refused;
  // lvm refuses an extend that would not grow the LV; extends are absolute
  // and idempotent, so one that is already done succeeds.
  Result<Lv> current = GetLv(vg, lv);
  if (!current.ok()) return refused;
  return current->size_bytes >= size.Bytes(current->extent_size_bytes)
             ? Status::Ok()
             : refused;
}

std::vector<Status> LvmCache::LvExtendMany(
    const std::string& vg, const std::vector<LvExtendItem>& items) {
  std::vector<Status> out(items.size(), Status::Ok());
  // Idempotence first: what is already big enough needs no command.
  std::map<std::string, Lv> current;
  if (Result<std::vector<Lv>> lvs = GetAllLvs(vg); lvs.ok()) {
    for (Lv& lv : *lvs) current.emplace(lv.name, std::move(lv));
  }
  std::vector<size_t> todo;
  std::vector<LvExtendItem> run;
  for (size_t i = 0; i < items.size(); ++i) {
    auto it = current.find(items[i].lv);
    if (it != current.end() &&
        it->second.size_bytes >=
            items[i].size.Bytes(it->second.extent_size_bytes)) {
      continue;
    }
    todo.push_back(i);
    run.push_back(items[i]);
  }
  if (run.empty()) return out;

  DeviceList devices;
  {
    MutexLock lock(mu_);
    devices = devices_;
    ++stats_.changes;
  }
  Result<std::vector<Status>> batch = [&] {
    SlotGuard<Semaphore> slot(*slots_);
    return lvm_.LvExtendMany(devices, vg, run);
  }();
  {
    MutexLock lock(mu_);
    InvalidateVgLocked(vg);
    for (const LvExtendItem& item : run) InvalidateLvLocked(vg, item.lv);
    InvalidatePvsLocked();
    if (!batch.ok()) ++stats_.batch_fallbacks;
  }
  if (!batch.ok()) {
    log::Warning("lvm", "lvm shell batch failed, one lvextend per LV",
                 {{"vg", vg},
                  {"lvs", run.size()},
                  {"error", batch.status().ToString()}});
    for (size_t k = 0; k < todo.size(); ++k) {
      out[todo[k]] = LvExtend(vg, run[k].lv, run[k].size);
    }
    return out;
  }
  for (size_t k = 0; k < todo.size(); ++k) {
    out[todo[k]] = AcceptIfReached(vg, run[k].lv, run[k].size, (*batch)[k]);
  }
  return out;
}

Status LvmCache::LvReduce(const std::string& vg, const std::string& lv,
                          LvSize size) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.LvReduce(d, vg, lv, size); });
  MutexLock lock(mu_);
  InvalidateVgLocked(vg);
  InvalidateLvLocked(vg, lv);
  InvalidatePvsLocked();
  return s;
}

Status LvmCache::LvRemove(const std::string& vg,
                          const std::vector<std::string>& lvs) {
  Status s =
      RunChange([&](const DeviceList& d) { return lvm_.LvRemove(d, vg, lvs); });
  MutexLock lock(mu_);
  InvalidateVgLocked(vg);
  for (const std::string& lv : lvs) DropLvLocked(vg, lv);
  InvalidatePvsLocked();
  return s;
}

Status LvmCache::LvChangeTags(const std::string& vg, const std::string& lv,
                              const TagChange& change) {
  Status s = RunChange([&](const DeviceList& d) {
    return lvm_.LvChangeTags(d, vg, lv, change);
  });
  MutexLock lock(mu_);
  InvalidateLvLocked(vg, lv);
  return s;
}

Status LvmCache::LvChangePermission(const std::string& vg,
                                    const std::string& lv,
                                    Permission permission) {
  Status s = RunChange([&](const DeviceList& d) {
    return lvm_.LvChangePermission(d, vg, lv, permission);
  });
  MutexLock lock(mu_);
  InvalidateLvLocked(vg, lv);
  return s;
}

Status LvmCache::LvRename(const std::string& vg, const std::string& from,
                          const std::string& to) {
  Status s = RunChange(
      [&](const DeviceList& d) { return lvm_.LvRename(d, vg, from, to); });
  MutexLock lock(mu_);
  DropLvLocked(vg, from);
  InvalidateLvLocked(vg, to);
  return s;
}

}  // namespace sanpool::lvm
