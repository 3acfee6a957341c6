#include "domains/monitor/hanging_env.h"

namespace sanpool::monitor {

class HangingEnv::HangingFile final : public DirectFile {
 public:
  HangingFile(HangingEnv& env, std::unique_ptr<DirectFile> base)
      : env_(env), base_(std::move(base)) {}

  Status PRead(uint64_t offset, AlignedBuffer& buf) override {
    env_.MaybeHang(base_->path());
    return base_->PRead(offset, buf);
  }
  Status PWrite(uint64_t offset, const AlignedBuffer& buf) override {
    return base_->PWrite(offset, buf);
  }
  Status Fsync() override { return base_->Fsync(); }
  Result<uint64_t> Size() override { return base_->Size(); }
  size_t block_size() const override { return base_->block_size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  HangingEnv& env_;
  std::unique_ptr<DirectFile> base_;
};

void HangingEnv::HangReads(std::string path) {
  MutexLock lock(mu_);
  hang_path_ = std::move(path);
}

void HangingEnv::ReleaseReads() {
  MutexLock lock(mu_);
  hang_path_.clear();
  ++release_generation_;
  changed_.SignalAll();
}

void HangingEnv::WaitForHung(int n) const {
  MutexLock lock(mu_);
  while (hung_ < n) changed_.Wait(mu_);
}

int HangingEnv::OpenCount(const std::string& path) const {
  MutexLock lock(mu_);
  auto it = opens_.find(path);
  return it == opens_.end() ? 0 : it->second;
}

Result<std::unique_ptr<DirectFile>> HangingEnv::OpenDirect(
    const std::string& path, const DirectOptions& options) {
  {
    MutexLock lock(mu_);
    ++opens_[path];
  }
  ASSIGN_OR_RETURN(std::unique_ptr<DirectFile> file,
                   base_.OpenDirect(path, options));
  return std::unique_ptr<DirectFile>(new HangingFile(*this, std::move(file)));
}

void HangingEnv::MaybeHang(const std::string& path) {
  MutexLock lock(mu_);
  if (hang_path_.empty() || path != hang_path_) return;
  const uint64_t generation = release_generation_;
  ++hung_;
  changed_.SignalAll();
  while (release_generation_ == generation) changed_.Wait(mu_);
  --hung_;
}

}  // namespace sanpool::monitor
