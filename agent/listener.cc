#include "agent/listener.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "agent/http_session.h"
#include "base/log.h"

namespace sanpool::agent {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

constexpr std::chrono::milliseconds kAcceptBackoff{100};

Status FromAsio(const boost::system::error_code& ec, std::string_view what) {
  if (ec.category() == boost::system::system_category()) {
    return ErrnoToStatus(ec.value(), what);
  }
  return UnknownError(std::string(what) + ": " + ec.message());
}

// The accept loop shared by both protocols. `on_accept` turns an accepted
// socket (already on its own strand) into a session.
template <class Protocol>
class AcceptLoop : public Listener,
                   public std::enable_shared_from_this<AcceptLoop<Protocol>> {
 public:
  using Acceptor = typename Protocol::acceptor;
  using Socket = typename Protocol::socket;
  using OnAccept = std::function<void(Socket)>;

  AcceptLoop(asio::io_context& ioc, std::shared_ptr<ServerState> state,
             Acceptor acceptor, BoundAddress address, OnAccept on_accept)
      : ioc_(ioc),
        state_(std::move(state)),
        acceptor_(std::move(acceptor)),
        backoff_(acceptor_.get_executor()),
        address_(std::move(address)),
        on_accept_(std::move(on_accept)) {}

  void Start() override { Accept(); }

  void Stop() override {
    asio::post(acceptor_.get_executor(), [self = this->shared_from_this()] {
      if (self->stopped_) return;
      self->stopped_ = true;
      boost::system::error_code ec;
      self->acceptor_.close(ec);
      self->backoff_.cancel();
      if (self->address_.transport == "unix") {
        ::unlink(self->address_.address.c_str());
      }
    });
  }

  const BoundAddress& address() const override { return address_; }

 private:
  void Accept() {
    if (stopped_) return;
    acceptor_.async_accept(
        asio::make_strand(ioc_),
        [self = this->shared_from_this()](boost::system::error_code ec,
                                          Socket socket) {
          self->OnAccepted(ec, std::move(socket));
        });
  }

  void OnAccepted(boost::system::error_code ec, Socket socket) {
    if (stopped_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: out of resources; do not spin.
      log::Warning("rpc", "accept failed",
                   {{"listener", address_.address}, {"error", ec.message()}});
      backoff_.expires_after(kAcceptBackoff);
      backoff_.async_wait([self = this->shared_from_this()](
                              boost::system::error_code) { self->Accept(); });
      return;
    }
    if (static_cast<size_t>(state_->connections.load()) >=
        state_->options.max_connections) {
      if (state_->rejected++ % 1000 == 0) {
        log::Warning("rpc", "too many connections, closing new ones",
                     {{"max_connections", state_->options.max_connections}});
      }
      boost::system::error_code ignored;
      socket.close(ignored);
    } else {
      on_accept_(std::move(socket));
    }
    Accept();
  }

  asio::io_context& ioc_;
  std::shared_ptr<ServerState> state_;
  Acceptor acceptor_;
  asio::steady_timer backoff_;
  const BoundAddress address_;
  OnAccept on_accept_;
  bool stopped_ = false;
};

Result<tcp::endpoint> ResolveTcp(asio::io_context& ioc, const std::string& host,
                                 uint16_t port) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (!ec) return tcp::endpoint(addr, port);
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    return InvalidArgumentError("cannot resolve rpc host '" + host +
                                "': " + ec.message());
  }
  return results.begin()->endpoint();
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

// Creates every missing directory of `dir` with mode 0755 (umask ignored).
Status MakeParentDirs(const std::string& dir) {
  if (dir.empty()) return Status::Ok();
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0755) == 0) {
      if (::chmod(prefix.c_str(), 0755) != 0) {
        return ErrnoToStatus(errno, "chmod " + prefix);
      }
    } else if (errno != EEXIST) {
      return ErrnoToStatus(errno, "mkdir " + prefix);
    }
  }
  return Status::Ok();
}

// A socket file nobody answers on is stale and removed; anything else at
// the path is left alone and reported.
Status RemoveStaleSocket(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return ErrnoToStatus(errno, "stat " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return FailedPreconditionError(path + " exists and is not a socket")
        .WithDetail("path", path);
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoToStatus(errno, "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) {
    return FailedPreconditionError("another process is listening on " + path)
        .WithDetail("path", path);
  }
  if (err != ECONNREFUSED && err != ENOENT) {
    return ErrnoToStatus(err, "probing existing socket " + path);
  }
  log::Info("rpc", "removing stale socket", {{"path", path}});
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoToStatus(errno, "unlink " + path);
  }
  return Status::Ok();
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

Result<std::shared_ptr<Listener>> OpenTcpListener(
    asio::io_context& ioc, std::shared_ptr<ServerState> state,
    const std::string& host, uint16_t port,
    std::shared_ptr<asio::ssl::context> tls) {
  ASSIGN_OR_RETURN(tcp::endpoint endpoint, ResolveTcp(ioc, host, port));
  tcp::acceptor acceptor(asio::make_strand(ioc));
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (ec) return FromAsio(ec, "socket");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(endpoint, ec);
  if (ec) return FromAsio(ec, "bind " + FormatEndpoint(endpoint));
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return FromAsio(ec, "listen " + FormatEndpoint(endpoint));
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return FromAsio(ec, "getsockname");

  BoundAddress address{tls ? "tls" : "tcp", FormatEndpoint(bound),
                       bound.port()};
  std::shared_ptr<ServerState> st = state;
  auto on_accept = [st, tls](tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    ConnectionSlot slot(st, "http");
    if (tls) {
      StartHttpSession(TlsStream(std::move(socket), *tls), std::move(slot));
    } else {
      StartHttpSession(TcpStream(std::move(socket)), std::move(slot));
    }
  };
  return std::shared_ptr<Listener>(std::make_shared<AcceptLoop<tcp>>(
      ioc, std::move(state), std::move(acceptor), std::move(address),
      std::move(on_accept)));
}

Result<std::shared_ptr<Listener>> OpenUnixListener(
    asio::io_context& ioc, std::shared_ptr<ServerState> state,
    const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return InvalidArgumentError("unix socket path must be absolute: '" + path +
                                "'");
  }
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return InvalidArgumentError("unix socket path too long: " + path);
  }
  RETURN_IF_ERROR(MakeParentDirs(path.substr(0, path.rfind('/'))));
  RETURN_IF_ERROR(RemoveStaleSocket(path));

  local::acceptor acceptor(asio::make_strand(ioc));
  boost::system::error_code ec;
  acceptor.open(local(), ec);
  if (ec) return FromAsio(ec, "socket");
  acceptor.bind(local::endpoint(path), ec);
  if (ec) return FromAsio(ec, "bind " + path);
  // Before listen(): nobody can connect while the mode is still wider.
  if (::chmod(path.c_str(), 0600) != 0) {
    Status s = ErrnoToStatus(errno, "chmod " + path);
    ::unlink(path.c_str());
    return s;
  }
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    ::unlink(path.c_str());
    return FromAsio(ec, "listen " + path);
  }
  BoundAddress address{"unix", path, 0};
  std::shared_ptr<ServerState> st = state;
  auto on_accept = [st](local::socket socket) {
    ConnectionSlot slot(st, "unix");
    StartHttpSession(UnixStream(std::move(socket)), std::move(slot));
  };
  return std::shared_ptr<Listener>(std::make_shared<AcceptLoop<local>>(
      ioc, std::move(state), std::move(acceptor), std::move(address),
      std::move(on_accept)));
}

}  // namespace sanpool::agent
