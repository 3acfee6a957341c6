#include "tools/dmemu/mapped_device.h"

#include <cerrno>
#include <chrono>
#include <thread>

namespace sanpool::dmemu {

MappedDevice::MappedDevice(std::string name, std::string uuid,
                           std::shared_ptr<const SegmentIo> io)
    : name_(std::move(name)), uuid_(std::move(uuid)), io_(std::move(io)) {}

uint64_t MappedDevice::SizeBytes() const {
  MutexLock lock(mu_);
  return io_->size_bytes();
}

std::shared_ptr<const SegmentIo> MappedDevice::Io() const {
  MutexLock lock(mu_);
  return io_;
}

void MappedDevice::SwapIo(std::shared_ptr<const SegmentIo> io) {
  MutexLock lock(mu_);
  io_ = std::move(io);
}

void MappedDevice::SetFaults(const dm::FaultSpec& faults) {
  MutexLock lock(mu_);
  faults_ = faults;
  unhung_.SignalAll();
}

dm::FaultSpec MappedDevice::Faults() const {
  MutexLock lock(mu_);
  return faults_;
}

int MappedDevice::HungRequests() const {
  MutexLock lock(mu_);
  return faults_.hang ? hung_ : 0;
}

void MappedDevice::Retire() {
  MutexLock lock(mu_);
  retired_ = true;
  unhung_.SignalAll();
}

std::shared_ptr<const SegmentIo> MappedDevice::Admit(Kind kind) {
  uint32_t delay_ms = 0;
  {
    MutexLock lock(mu_);
    ++hung_;
    while (faults_.hang && !retired_) unhung_.Wait(mu_);
    --hung_;
    if (retired_) return nullptr;
    delay_ms = kind == Kind::kRead ? faults_.read_delay_ms
                                   : faults_.write_delay_ms;
  }
  if (delay_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  }
  MutexLock lock(mu_);
  bool fail = kind == Kind::kRead ? faults_.read_error : faults_.write_error;
  if (retired_ || fail) return nullptr;
  return io_;
}

ssize_t MappedDevice::Read(char* buf, size_t size, uint64_t offset) {
  std::shared_ptr<const SegmentIo> io = Admit(Kind::kRead);
  if (!io) return -EIO;
  return io->Read(buf, size, offset);
}

ssize_t MappedDevice::Write(const char* buf, size_t size, uint64_t offset) {
  std::shared_ptr<const SegmentIo> io = Admit(Kind::kWrite);
  if (!io) return -EIO;
  return io->Write(buf, size, offset);
}

int MappedDevice::Sync() {
  std::shared_ptr<const SegmentIo> io = Admit(Kind::kWrite);
  if (!io) return -EIO;
  return io->Sync();
}

}  // namespace sanpool::dmemu
