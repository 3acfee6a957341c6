// The pool and SPM JSON-RPC verbs (reference §3, §7.2), over
// spm::StoragePool and spm::Spm.
//
//   StoragePool.create       storagepoolID, name, masterSdUUID, masterVersion,
//                            domainList (array or "sd1,sd2"), lease params
//                            (accepted, unused: sanlock's come from
//                            io_timeout) -> null
//   StoragePool.connect      storagepoolID, hostID, masterSdUUID,
//                            masterVersion, scsiKey?, domainDict? -> null
//   StoragePool.disconnect   storagepoolID, hostID?, scsiKey?, remove?,
//                            force? (stop SPM first) -> null; 315 as SPM
//   StoragePool.refresh      storagepoolID, masterSdUUID, masterVersion
//   StoragePool.getInfo      storagepoolID -> {info:{name,type,master_uuid,
//                            master_ver,lver,spm_id,version,domains,
//                            isoprefix,pool_status}, dominfo:{sd:{status,
//                            version,disktotal,diskfree,alerts,isoprefix,
//                            acquired}}}
//   StoragePool.spmStart     storagepoolID, prevID, prevLver,
//                            enableScsiFencing?, maxHostID?, domVersion?
//                            -> task UUID (tag "hsm"; the task fails with
//                            the start's storage code: 651, 657, 661, ...)
//   StoragePool.spmStop      storagepoolID, force? -> null (403 with tasks)
//   StoragePool.getSpmStatus storagepoolID -> {spmStatus: SPM|Contend|Free,
//                            spmLver, spmId}
//   StorageDomain.attach / activate     storagedomainID, storagepoolID [SPM]
//   StorageDomain.deactivate / detach   storagedomainID, storagepoolID,
//                            masterSdUUID?, masterVersion?, force? [SPM]
//
// Numbers (hostID, masterVersion, prevID, prevLver) are accepted as JSON
// integers or decimal strings, as VDSM's clients send both.
//
// Notification: StoragePool.spmChanged {storagepoolID, spmStatus, spmLver,
// spmId} whenever this host's role changes (SpmChangePublisher).
//
// Thread-safety: handlers may run concurrently on worker threads.
#ifndef SANPOOL_AGENT_POOL_METHODS_H_
#define SANPOOL_AGENT_POOL_METHODS_H_

#include <functional>
#include <string>

#include "agent/method_registry.h"
#include "agent/notifications.h"
#include "base/status.h"
#include "spm/spm.h"
#include "spm/storage_pool.h"
#include "spm/task_manager.h"

namespace sanpool::agent {

inline constexpr char kSpmChangedEvent[] = "StoragePool.spmChanged";

// Filled in by main.cc after the config is loaded; verbs called while a
// member is null fail with kUnavailable. Pointees outlive the calls.
struct PoolServices {
  spm::StoragePool* pool = nullptr;
  spm::Spm* spm = nullptr;
  spm::TaskManager* tasks = nullptr;  // runs spmStart
};

Status RegisterPoolMethods(MethodRegistry& registry,
                           const PoolServices* services);

// An Spm on_change callback publishing kSpmChangedEvent on `hub` (which
// must outlive the Spm).
std::function<void(const std::string&, const spm::SpmStatus&)>
SpmChangePublisher(NotificationHub& hub);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_POOL_METHODS_H_
