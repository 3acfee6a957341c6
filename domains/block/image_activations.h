// ImageActivations: who holds each prepared image of one block domain on
// this host, over the per-LV reference counts of the Activator
// (activation.h). BlockImages::Prepare/Teardown take and drop references
// here (doc/block-domains.md "Images").
//
// An image is held by readers and at most one writer, all for the same top
// volume (chain, top first):
//   kReadOnly   every chain volume mapped shared (the top too): any number
//               of readers at once, each Acquire one more reference;
//   kReadWrite  the top volume mapped exclusively (the writer), the rest
//               shared. The writer is one: a second kReadWrite Acquire of
//               the image while it has its writer takes no new reference
//               and succeeds (preparing again returns the same), so a
//               single release frees it.
// Readers and the writer coexist (readers never write; the Activator allows
// shared references next to the exclusive one). Acquiring the image for
// another top volume while it is held is refused (kFailedPrecondition).
//
// Release drops one reference: kReadWrite the writer's if held, else a
// reader's; kReadOnly a reader's if any, else the writer's. The last one
// unmaps the chain (what the Activator's own counts allow: a volume shared
// with another image stays mapped).
//
// Errors: the Activator's; a failed Acquire leaves no reference behind.
// Blocking: Activator calls (lvm reports, dm calls).
// Thread-safety: thread-safe. Calls on one image are serialized (a second
// waits for the first); calls on different images run in parallel.
#ifndef SANPOOL_DOMAINS_BLOCK_IMAGE_ACTIVATIONS_H_
#define SANPOOL_DOMAINS_BLOCK_IMAGE_ACTIVATIONS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "domains/block/activation.h"

namespace sanpool::block {

// How an image is prepared: by its writer (the VM running on it) or by a
// reader (a backup, a copy source).
enum class ImageAccess { kReadWrite, kReadOnly };

struct ImageHolders {
  std::vector<std::string> chain;  // top first
  int readers = 0;
  bool writer = false;
  int Count() const { return readers + (writer ? 1 : 0); }
};

class ImageActivations {
 public:
  // `activator` must outlive this object; `vg` is the domain's VG.
  ImageActivations(Activator& activator, std::string vg);

  // Takes one reference on `img` (see the file comment); returns the mapped
  // devices, top first. REQUIRES: `chain` non-empty.
  Result<std::vector<std::string>> Acquire(const std::string& img,
                                           const std::vector<std::string>& chain,
                                           ImageAccess access) EXCLUDES(mu_);
  // Drops one reference; returns how many are left (0: no longer held, the
  // chain unmapped). An image not held: 0, OK. An unmap error is returned
  // after the reference is dropped.
  Result<int> Release(const std::string& img, ImageAccess access)
      EXCLUDES(mu_);

  // Who holds `img`; nullopt when nobody.
  std::optional<ImageHolders> Holders(const std::string& img) const
      EXCLUDES(mu_);

 private:
  // Waits until no other call works on `img`, then marks it busy.
  void Enter(const std::string& img) EXCLUDES(mu_);
  void Leave(const std::string& img) EXCLUDES(mu_);
  // Maps `chain` with the top in `top_mode`; on failure unmaps what it
  // mapped.
  Result<std::vector<std::string>> MapChain(
      const std::vector<std::string>& chain, LockMode top_mode);
  Status UnmapChain(const std::vector<std::string>& chain, LockMode top_mode);

  Activator& activator_;
  const std::string vg_;
  mutable Mutex mu_;
  CondVar idle_;
  std::set<std::string> busy_ GUARDED_BY(mu_);
  std::map<std::string, ImageHolders> held_ GUARDED_BY(mu_);
};

}  // namespace sanpool::block

#endif  // SANPOOL_DOMAINS_BLOCK_IMAGE_ACTIVATIONS_H_
