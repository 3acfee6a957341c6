#include "tools/dmemu/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"

namespace sanpool::dmemu {
namespace {

// Lines longer than this are a broken client; the connection is closed.
constexpr size_t kMaxLine = 1 << 20;

bool FillAddress(const std::string& path, sockaddr_un* addr) {
  std::memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  std::memcpy(addr->sun_path, path.c_str(), path.size() + 1);
  return true;
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler)
    : path_(std::move(path)), handler_(std::move(handler)) {}

Result<std::unique_ptr<ControlServer>> ControlServer::Start(
    const std::string& path, Handler handler) {
  sockaddr_un addr;
  if (!FillAddress(path, &addr)) {
    return InvalidArgumentError("socket path too long: " + path);
  }
  std::unique_ptr<ControlServer> server(
      new ControlServer(path, std::move(handler)));
  server->listener_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!server->listener_) return ErrnoToStatus(errno, "socket");
  // A live daemon answers a connect; a stale file does not.
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr),
                  sizeof(addr)) == 0) {
      return AlreadyExistsError("another sanpool-dmemu listens on " + path);
    }
  }
  ::unlink(path.c_str());
  mode_t old_mask = ::umask(0077);
  int rc = ::bind(server->listener_.get(), reinterpret_cast<sockaddr*>(&addr),
                  sizeof(addr));
  int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) return ErrnoToStatus(bind_errno, "bind " + path);
  if (::chmod(path.c_str(), 0600) != 0) return ErrnoToStatus(errno, "chmod");
  if (::listen(server->listener_.get(), 64) != 0) {
    return ErrnoToStatus(errno, "listen " + path);
  }
  server->wake_.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!server->wake_) return ErrnoToStatus(errno, "eventfd");
  ControlServer* raw = server.get();
  server->accept_thread_ = std::thread([raw] { raw->AcceptLoop(); });
  return server;
}

ControlServer::~ControlServer() { Stop(); }

void ControlServer::AcceptLoop() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || fds[1].revents != 0) return;
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    MutexLock lock(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    connections_.insert(fd);
    ++running_;
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void ControlServer::Serve(int fd) {
  std::string buffer;
  char chunk[4096];
  for (;;) {
    size_t eol = buffer.find('\n');
    if (eol != std::string::npos) {
      std::string answer = handler_(std::string_view(buffer).substr(0, eol));
      buffer.erase(0, eol + 1);
      if (!SendAll(fd, answer + "\n")) break;
      continue;
    }
    if (buffer.size() > kMaxLine) break;
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
  }
  MutexLock lock(mu_);
  connections_.erase(fd);
  ::close(fd);
  if (--running_ == 0) idle_.SignalAll();
}

void ControlServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof(one));
  if (accept_thread_.joinable()) accept_thread_.join();
  {
    MutexLock lock(mu_);
    while (running_ > 0) idle_.Wait(mu_);
  }
  ::unlink(path_.c_str());
}

}  // namespace sanpool::dmemu
