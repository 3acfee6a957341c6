// ControlServer: sanpool-dmemu's control socket. A Unix stream socket (mode
// 0600) that reads request lines and writes back whatever the handler
// answers, one line per request, in order, one thread per connection.
//
// Starting refuses a socket path where another daemon answers
// (kAlreadyExists); a stale socket file left by a dead daemon is replaced.
//
// Thread-safety: Start/Stop from one thread; the handler is called from the
// connection threads concurrently and must be thread-safe.
#ifndef SANPOOL_TOOLS_DMEMU_CONTROL_SERVER_H_
#define SANPOOL_TOOLS_DMEMU_CONTROL_SERVER_H_

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "base/status.h"
#include "base/thread_annotations.h"
#include "base/unique_fd.h"

namespace sanpool::dmemu {

class ControlServer {
 public:
  // Maps one request line (without newline) to one answer line.
  using Handler = std::function<std::string(std::string_view line)>;

  static Result<std::unique_ptr<ControlServer>> Start(const std::string& path,
                                                      Handler handler);
  // Stops if still running.
  ~ControlServer();

  // Stops accepting, closes every connection (a request being handled
  // finishes first), waits for the threads and unlinks the socket.
  // Idempotent.
  void Stop() EXCLUDES(mu_);

 private:
  ControlServer(std::string path, Handler handler);
  void AcceptLoop() EXCLUDES(mu_);
  void Serve(int fd) EXCLUDES(mu_);

  const std::string path_;
  const Handler handler_;
  UniqueFd listener_;
  UniqueFd wake_;  // eventfd: Stop() wakes the accept loop.
  std::thread accept_thread_;
  bool stopped_ = false;

  Mutex mu_;
  CondVar idle_;
  std::set<int> connections_ GUARDED_BY(mu_);
  int running_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
};

}  // namespace sanpool::dmemu

#endif  // SANPOOL_TOOLS_DMEMU_CONTROL_SERVER_H_
