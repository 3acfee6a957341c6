// The storage JSON-RPC verbs over file domains, with oVirt's names and
// parameters (reference §7.2; the wire names of vdsm-api.yml).
//
// Ids are declared `uuid` params (canonical 8-4-4-4-12 hex; anything else,
// ".." and "/" included, is refused with -32602 before a handler runs).
// `storagepoolID` is accepted and ignored (the domain's own POOL_UUID is
// what counts). Every verb that changes metadata calls SpmRole::RequireSpm()
// first (654 "Not SPM" before anything is read or written), then, once the
// domain is found, SpmRole::RequireSpmOf with the domain's POOL_UUID (the
// SPM of pool P changes only P's domains: 353 otherwise; a host in no pool
// only domains in no pool: 654; Image.copy checks its destination); read
// verbs and Image.prepare/teardown (HSM verbs in oVirt) do not. StorageDomain.create/format are HSM verbs in oVirt
// too (a domain outside a pool has no SPM), so they are not gated either;
// format refuses an attached domain (391).
//
// Synchronous verbs (blocking; Execution::kWorker):
//   StorageDomain.create   storagedomainID, domainType, typeArgs (remote path),
//                          name, domainClass, version?, blockSize?, maxHosts?
//                          -> null. Creates <repository>/mnt/<escaped remote
//                          path>/<sd> (the mount dir must exist: 351).
//   StorageDomain.format   storagedomainID, autoDetach? -> null
//   StorageDomain.getInfo  storagedomainID -> {uuid,type,class,name,role,pool,
//                          version,block_size,alignment,remotePath}
//   StorageDomain.getStats storagedomainID -> {disktotal,diskfree,mdasize,...}
//   StorageDomain.getImages storagedomainID -> [imgUUID...]
//   StorageDomain.getVolumes storagedomainID, imageID -> [volUUID...]
//   StorageDomain.validate storagedomainID -> null (371 naming what is broken)
//   Volume.getInfo / getSize / getQemuImageInfo / measure (dest_format)
//   Volume.setDescription (description) / setLegality (legality)   [SPM]
//   Image.prepare          ..., allowIllegal? -> {path, info, imgVolumesInfo}
//   Image.teardown         ..., volumeID? -> null (idempotent)
//
// Asynchronous verbs [SPM] return a task UUID at once; the work runs on the
// TaskManager's pool and its outcome is the task's (Task.getStatus: code is
// the storage code of the failure, 0 on success):
//   Volume.create      volumeID, storagedomainID, imageID, size, volFormat,
//                      preallocate, diskType?, desc?, srcImgUUID?, srcVolUUID?,
//                      initialSize?. Checked before the task is made (errors
//                      returned by the call itself): the SPM role, the ids,
//                      size (229 for <= 0, 1000 for not a multiple of 512 or
//                      above 8 EiB), format/allocation/initial size rules,
//                      that the domain exists (358). Checked by the job
//                      (task result): the parent (201/262/226), the volume
//                      exists (212), qemu-img failures (205).
//   Volume.extendSize  ..., newSize. Job: FileVolumes::ExtendSize.
//   Volume.delete      ..., postZero?, force?, discard? (ignored on file
//                      domains, as in oVirt). Job: FileVolumes::Delete
//                      (204 with children, 223 for a used template).
//   Image.delete       ..., postZero?, force?, discard?. Job: FileImages::Delete
//                      (268 if the image does not exist).
//   Image.copy         storagedomainID,
//                      imageID, dstSdUUID, dstImgUUID, volumeID?, collapse?,
//                      dstVolUUID?, volFormat?, preallocate?.
//                      Job: ImageCopier::Copy with progress and cancellation
//                      (kUnavailable when no copier is configured).
// Each job checks its cancellation token before it starts; the file-domain
// operations themselves run to completion (they roll back on failure), so
// Task.stop on a running create/delete takes effect only for Image.copy.
//
// Crash behaviour (for kill-the-agent tests): a task lives in memory only; an
// agent killed mid-job loses the task (Task.getStatus -> 401 after restart)
// and leaves what the domain layer's crash protocol says (file_volume.h,
// file_image.h); the restarted agent repairs it through
// FileDomain::RecoverDomain() the first time it opens the domain as SPM.
//
// Thread-safety: the handlers may run concurrently on any thread.
#ifndef SANPOOL_AGENT_STORAGE_METHODS_H_
#define SANPOOL_AGENT_STORAGE_METHODS_H_

#include "agent/method_registry.h"
#include "base/status.h"
#include "domains/domain_registry.h"
#include "domains/file/image_copy.h"
#include "spm/role.h"
#include "spm/task_manager.h"

namespace sanpool::agent {

// What the storage verbs work on. Filled in by main.cc once the config is
// loaded (the methods are registered before that, for --dump-api); a verb
// called while a required member is null fails with kUnavailable. All
// pointees must outlive the calls in flight.
struct StorageServices {
  DomainRegistry* domains = nullptr;
  const spm::SpmRole* role = nullptr;
  spm::TaskManager* tasks = nullptr;
  file_domain::ImageCopier* copier = nullptr;  // Image.copy
};

// Registers the StorageDomain.*, Volume.* and Image.* verbs above.
// `services` must outlive the registry. Errors: MethodRegistry::Register's.
Status RegisterStorageMethods(MethodRegistry& registry,
                              const StorageServices* services);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_STORAGE_METHODS_H_
