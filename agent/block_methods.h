// The storage verbs for block (iSCSI/FC) domains, next to the file ones:
// one dispatch point in front of agent/storage_methods.h.
//
// RegisterStorageMethodsWithBlock registers every StorageDomain.*, Volume.*
// and Image.* verb of RegisterStorageMethods with the same names and params;
// each verb that takes a storagedomainID first asks the BlockDomainRegistry
// whether the id names a VG on lvm.devices (BlockDomainRegistry::
// IsBlockDomain) and then runs the block handler, else the file handler
// unchanged. The registry remembers a "no VG" for a while, so a file-domain
// call runs no lvm process; when the file side answers 358 (unknown domain)
// lvm is asked afresh and a VG found then gets the block handler (a domain
// made by another host). StorageDomain.create goes to the block side for
// domainType ISCSI (3) or FCP (2). Same SPM gating (the per-domain rule of
// spm/role.h on the POOL_UUID in the VG tags), task scheduling and error
// codes as the file verbs (storage_methods.h); block specifics:
//
//   StorageDomain.create  typeArgs = the VG made by LVMVolumeGroup.create,
//                         by name (= storagedomainID) or uuid (oVirt sends
//                         the VG uuid); 506 without such a VG; 351 for a VG
//                         that LVMVolumeGroup.create did not make.
//   StorageDomain.getInfo remotePath = "" and vguuid, pvs (device paths).
//   StorageDomain.getStats mdasize/mdafree/mdavalid/mdathreshold are real.
//   Volume.delete         postZero=true zeroes the LV (blkdiscard
//                         --zeroout) before lvremove, in the background.
//   Image.delete          likewise.
//   Image.prepare         info.type = "block"; leasePath/leaseOffset of the
//                         requested volume are the `leases` LV and
//                         (100 + slot) x alignment. readonly=true prepares
//                         as a reader: readers of one image share it (each
//                         call one reference), the writer (default) is one
//                         (block_image.h).
//   Image.teardown        drops one reference (readonly=true: a reader's);
//                         the last one unmaps.
//   Volume.getQemuImageInfo, Volume.measure, Image.copy: not served on block
//                         domains (kUnimplemented, 2009).
//
// New verbs (kWorker):
//   LVMVolumeGroup.create  name (a UUID: the future sdUUID), devlist
//                          (device paths among lvm.devices; 1000 otherwise),
//                          force? -> the VG uuid. HSM verb (no SPM gate).
//   LVMVolumeGroup.getInfo vgUUID (the VG name) -> {name, uuid, size, free,
//                          extentSize, pvs, tags}; 506 without the VG.
//   StorageDomain.extend   storagedomainID, devlist (one or more devices),
//                          force? -> null. SPM.
//
// Thread-safety: the handlers may run concurrently on any thread.
#ifndef SANPOOL_AGENT_BLOCK_METHODS_H_
#define SANPOOL_AGENT_BLOCK_METHODS_H_

#include "agent/method_registry.h"
#include "agent/storage_methods.h"
#include "base/status.h"
#include "domains/block/lvm_cache.h"
#include "domains/block_registry.h"

namespace sanpool::agent {

// What the block verbs work on; filled in by main.cc after the config is
// loaded. With `domains` null every id is treated as a file domain and the
// LVMVolumeGroup.* / StorageDomain.extend verbs fail with kUnavailable.
struct BlockServices {
  BlockDomainRegistry* domains = nullptr;
  lvm::LvmCache* lvm = nullptr;
};

// Registers the verbs of storage_methods.h (wrapped as above) and the new
// ones. `storage` and `block` must outlive the registry. Call instead of
// RegisterStorageMethods. Errors: MethodRegistry::Register's.
Status RegisterStorageMethodsWithBlock(MethodRegistry& registry,
                                       const StorageServices* storage,
                                       const BlockServices* block);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_BLOCK_METHODS_H_
