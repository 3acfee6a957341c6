// The Task.* verbs and Host.getAllTasks*, over spm::TaskManager (reference
// §6, §7.2), and the Task.stateChanged notification.
//
//   Task.getStatus  taskID -> {taskID, taskState, taskResult, code, message,
//                   progress}; taskState is oVirt's deprecated view (init,
//                   running, finished, aborting).
//   Task.getInfo    taskID -> {id, verb, state, tags, progress, startTime,
//                   endTime} (unix seconds; endTime null until finished)
//   Task.stop       taskID -> null; 410 once finished
//   Task.clear      taskID -> null; 403 while not finished
//   Host.getAllTasksStatuses -> {taskID: getStatus object}   [SPM, as oVirt]
//   Host.getAllTasksInfo     -> {taskID: getInfo object}     [SPM, as oVirt]
// Unknown task ids are 401. All run inline (memory only).
//
// Thread-safety: handlers may run concurrently on any thread.
#ifndef SANPOOL_AGENT_TASK_METHODS_H_
#define SANPOOL_AGENT_TASK_METHODS_H_

#include <boost/json/object.hpp>

#include "agent/method_registry.h"
#include "agent/notifications.h"
#include "agent/storage_methods.h"
#include "base/status.h"
#include "spm/task_manager.h"

namespace sanpool::agent {

inline constexpr char kTaskStateChangedEvent[] = "Task.stateChanged";

// Registers the verbs above; they use services->tasks and services->role
// (kUnavailable while null). `services` must outlive the registry.
Status RegisterTaskMethods(MethodRegistry& registry,
                           const StorageServices* services);

// A TaskManager state callback that publishes
//   Task.stateChanged {taskID, verb, state, taskState, taskResult, code,
//                      message, progress}
// on `hub` (which must outlive the manager).
spm::TaskManager::StateCallback TaskStatePublisher(NotificationHub& hub);

}  // namespace sanpool::agent

#endif  // SANPOOL_AGENT_TASK_METHODS_H_
