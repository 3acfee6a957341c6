// FakeDeviceMapper: an in-memory DeviceMapper for tests of code that
// activates volumes (block domains, the extend path). It keeps tables, not
// bytes: DevicePath() names no real device.
//
//   FakeDeviceMapper dm;
//   dm.SetOpenCount("vg-lv", 1);           // Remove() now refuses.
//   dm.FailNext(UnavailableError("boom"));  // The next call fails.
//   ... code under test ...
//   CHECK(dm.TableOf("vg-lv") == expected);
//
// Semantics follow the DeviceMapper contract (validation, kAlreadyExists,
// kNotFound, kFailedPrecondition on open devices unless forced).
//
// Thread-safety: all methods may be called from any thread.
#ifndef SANPOOL_DOMAINS_DM_FAKE_DEVICE_MAPPER_H_
#define SANPOOL_DOMAINS_DM_FAKE_DEVICE_MAPPER_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "domains/dm/device_mapper.h"

namespace sanpool::dm {

class FakeDeviceMapper : public DeviceMapper {
 public:
  Status Create(std::string_view name, std::string_view uuid,
                const Table& table) override EXCLUDES(mu_);
  Status Reload(std::string_view name, const Table& table) override
      EXCLUDES(mu_);
  Status Remove(std::string_view name, RemoveMode mode) override
      EXCLUDES(mu_);
  Result<DeviceInfo> Info(std::string_view name) override EXCLUDES(mu_);
  Result<std::vector<std::string>> List() override EXCLUDES(mu_);
  // "/dev/fake-dm/<name>".
  std::string DevicePath(std::string_view name) const override;

  // The next call (any method but DevicePath) returns `status` instead.
  void FailNext(Status status) EXCLUDES(mu_);
  // Openers reported by Info() and checked by Remove().
  void SetOpenCount(std::string_view name, int count) EXCLUDES(mu_);
  // The current table of `name`, nullopt if not mapped.
  std::optional<Table> TableOf(std::string_view name) const EXCLUDES(mu_);
  // Every call made, as "create vg-lv", "reload vg-lv", ...
  std::vector<std::string> Calls() const EXCLUDES(mu_);

 private:
  struct Device {
    std::string uuid;
    Table table;
    int open_count = 0;
  };
  // Records the call; returns the injected failure, if any.
  Status Enter(std::string_view what, std::string_view name) REQUIRES(mu_);

  mutable Mutex mu_;
  std::map<std::string, Device, std::less<>> devices_ GUARDED_BY(mu_);
  std::optional<Status> fail_next_ GUARDED_BY(mu_);
  std::vector<std::string> calls_ GUARDED_BY(mu_);
};

}  // namespace sanpool::dm

#endif  // SANPOOL_DOMAINS_DM_FAKE_DEVICE_MAPPER_H_
