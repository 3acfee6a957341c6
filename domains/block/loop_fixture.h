// Test-only: a "SAN" of loop devices over sparse files, for the system tests
// that need real block devices (lvm2, device-mapper). Root only.
//
//   PosixProcessRunner runner;
//   block::LoopDevices san(runner);
//   san.Create("sanpool-block", 2, 6ULL << 30);  // /var/tmp/sanpool-block-*
//   san.set_vg(sd_uuid);  // removed by the destructor too
//
// The destructor removes the VG (if set), detaches the loops and deletes the
// directory with the files, whatever happened; it also covers a Create()
// that failed half-way (Create is a method, not the constructor, so the
// destructor always runs). Failures in Create are Catch2 assertions, so use
// this inside a test case. Objects that hold the loops open (dm daemons,
// agents) must be destroyed first: declare them after this.
//
// Thread-safety: not thread-safe; one owner.
#ifndef SANPOOL_DOMAINS_BLOCK_LOOP_FIXTURE_H_
#define SANPOOL_DOMAINS_BLOCK_LOOP_FIXTURE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/process.h"
#include "base/status.h"
#include "domains/block/lvm.h"

namespace sanpool::block {

// Runs argv (no shell) with `timeout`.
Result<ProcessResult> RunTool(
    ProcessRunner& runner, std::vector<std::string> argv,
    std::chrono::seconds timeout = std::chrono::seconds(120));

class LoopDevices {
 public:
  // `runner` runs losetup and lvm; it must outlive this object.
  explicit LoopDevices(ProcessRunner& runner) : runner_(runner) {}
  ~LoopDevices();
  LoopDevices(const LoopDevices&) = delete;
  LoopDevices& operator=(const LoopDevices&) = delete;

  // Makes /var/tmp/<prefix>-XXXXXX with `count` sparse files lun0.. of
  // `bytes` each, attached with `losetup --find --show`. Fails the test on
  // any error. Call once.
  void Create(const std::string& prefix, int count, uint64_t bytes);

  // The VG the destructor removes (vgremove over loops()).
  void set_vg(std::string vg) { vg_ = std::move(vg); }

  const std::string& dir() const { return dir_; }
  // The attached loop devices (/dev/loopN), in file order.
  const lvm::DeviceList& loops() const { return loops_; }

 private:
  ProcessRunner& runner_;
  std::string dir_;
  lvm::DeviceList loops_;
  std::string vg_;
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_LOOP_FIXTURE_H_
