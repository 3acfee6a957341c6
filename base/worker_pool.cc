#include "base/worker_pool.h"

#include <pthread.h>

#include <algorithm>
#include <cassert>
#include <utility>

namespace sanpool {

WorkerPool::WorkerPool(WorkerPoolOptions options)
    : name_(options.name.substr(0, 12)),
      thread_count_(options.threads),
      max_queued_(options.max_queued) {
  assert(thread_count_ >= 1);
  threads_.reserve(thread_count_);
  for (int i = 0; i < thread_count_; ++i) {
    threads_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

Status WorkerPool::Submit(std::function<void()> work) {
  MutexLock lock(mu_);
  if (shutting_down_) {
    return FailedPreconditionError("worker pool " + name_ + " is shut down");
  }
  // An idle thread will pick the item up at once, so it does not count as
  // waiting against max_queued_.
  size_t idle = static_cast<size_t>(thread_count_) - running_;
  size_t waiting_after = queue_.size() + 1;
  if (waiting_after > idle && waiting_after - idle > max_queued_) {
    return ResourceExhaustedError("worker pool " + name_ + " queue is full (" +
                                  std::to_string(max_queued_) + " waiting)");
  }
  queue_.push_back(std::move(work));
  work_available_.Signal();
  return Status::Ok();
}

void WorkerPool::Shutdown() {
  assert(!IsPoolThread() && "WorkerPool::Shutdown from a pool thread");
  {
    MutexLock lock(mu_);
    if (shutting_down_) {
      while (!joined_) shutdown_done_.Wait(mu_);
      return;
    }
    shutting_down_ = true;
    work_available_.SignalAll();
  }
  for (std::thread& t : threads_) t.join();
  MutexLock lock(mu_);
  joined_ = true;
  shutdown_done_.SignalAll();
}

size_t WorkerPool::QueuedCount() const {
  MutexLock lock(mu_);
  return queue_.size();
}

size_t WorkerPool::RunningCount() const {
  MutexLock lock(mu_);
  return running_;
}

bool WorkerPool::IsPoolThread() const {
  auto self = std::this_thread::get_id();
  return std::any_of(threads_.begin(), threads_.end(),
                     [self](const std::thread& t) { return t.get_id() == self; });
}

void WorkerPool::WorkerLoop(int index) {
  std::string thread_name = name_ + "-" + std::to_string(index);
  pthread_setname_np(pthread_self(), thread_name.substr(0, 15).c_str());
  MutexLock lock(mu_);
  while (true) {
    while (queue_.empty() && !shutting_down_) work_available_.Wait(mu_);
    // Queued work still runs after shutdown starts: Shutdown() drains.
    if (queue_.empty()) return;
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    mu_.Unlock();
    work();
    work = nullptr;  // Captures die outside the lock.
    mu_.Lock();
    --running_;
  }
}

}  // namespace sanpool
