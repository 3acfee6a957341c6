#include "agent/server.h"

#include <pthread.h>

#include <optional>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "agent/listener.h"
#include "agent/server_state.h"
#include "agent/tls_context.h"
#include "base/gate.h"
#include "base/log.h"

namespace sanpool::agent {

namespace asio = boost::asio;

// Time allowed, after the drain, for connections to finish closing (TLS
// close_notify, WebSocket close handshake) before they are cut.
constexpr std::chrono::seconds kCloseGrace{3};

class Server::Impl {
 public:
  Impl(ServerOptions options, ServerDeps deps)
      : ioc_(options.io_threads > 0 ? options.io_threads : 1),
        state_(std::make_shared<ServerState>(std::move(options), deps)) {}

  ~Impl() { Shutdown(); }

  Status Start() {
    const ServerOptions& o = state_->options;
    if (o.io_threads < 1) return InvalidArgumentError("rpc.io_threads must be >= 1");
    if (o.max_in_flight_per_connection < 1) {
      return InvalidArgumentError("rpc.max_in_flight_per_connection must be >= 1");
    }
    if (o.host.empty() && o.unix_socket.empty()) {
      return InvalidArgumentError("no listener: rpc.host and rpc.unix_socket are both empty");
    }
    std::vector<std::shared_ptr<Listener>> listeners;
    if (!o.host.empty()) {
      std::shared_ptr<asio::ssl::context> tls;
      if (o.tls == TlsMode::kPlain) {
        if (!IsLoopbackHost(o.host)) {
          log::Error("rpc", "refusing plain TCP (tls = false) on a non-loopback address",
                     {{"host", o.host}});
          return FailedPreconditionError(
              "rpc.tls = false is only allowed on a loopback address, not '" +
              o.host + "'");
        }
        log::Warning("rpc", "TLS disabled: plain TCP listener (loopback only)",
                     {{"host", o.host}});
      } else {
        auto ctx = MakeTlsContext({o.ca_file, o.cert_file, o.key_file}, TlsRole::kServer);
        if (!ctx.ok()) {
          // A configuration problem whatever the cause (missing file, bad key).
          return InvalidArgumentError("rpc TLS configuration: " +
                                      std::string(ctx.status().message()));
        }
        tls = *std::move(ctx);
      }
      ASSIGN_OR_RETURN(auto listener,
                       OpenTcpListener(ioc_, state_, o.host, o.port, std::move(tls)));
      listeners.push_back(std::move(listener));
    }
    if (!o.unix_socket.empty()) {
      auto listener = OpenUnixListener(ioc_, state_, o.unix_socket);
      if (!listener.ok()) {
        for (auto& l : listeners) l->Stop();
        ioc_.poll();
        return listener.status();
      }
      listeners.push_back(*std::move(listener));
    }

    listeners_ = std::move(listeners);
    for (auto& l : listeners_) {
      addresses_.push_back(l->address());
      if (l->address().transport != "unix") tcp_port_ = l->address().port;
      l->Start();
      log::Info("rpc", "listening",
                {{"transport", l->address().transport}, {"addr", l->address().address}});
    }
    work_.emplace(ioc_.get_executor());
    for (int i = 0; i < o.io_threads; ++i) {
      threads_.emplace_back([this, i] {
        std::string name = "rpc-io-" + std::to_string(i);
        pthread_setname_np(pthread_self(), name.c_str());
        ioc_.run();
      });
    }
    running_ = true;
    return Status::Ok();
  }

  void Shutdown() {
    if (!running_) return;
    running_ = false;
    const ServerOptions& o = state_->options;
    log::Info("rpc", "shutting down: draining",
              {{"connections", state_->connections.load()},
               {"in_flight", state_->in_flight.load()}});
    state_->draining = true;
    for (auto& l : listeners_) l->Stop();
    state_->deps.gate->Close();
    state_->DrainAll();
    if (!state_->deps.gate->WaitDrainedFor(o.drain_timeout)) {
      log::Warning("rpc", "drain timeout: requests still in flight",
                   {{"in_flight", state_->in_flight.load()}});
    }
    state_->DrainAll();  // sessions that were mid-request at the first call
    if (!state_->WaitNoSessionsFor(kCloseGrace)) {
      state_->AbortAll();
      state_->WaitNoSessionsFor(kCloseGrace);
    }
    work_.reset();
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    log::Info("rpc", "stopped");
  }

  asio::io_context ioc_;
  std::shared_ptr<ServerState> state_;
  std::vector<std::shared_ptr<Listener>> listeners_;
  std::vector<BoundAddress> addresses_;
  uint16_t tcp_port_ = 0;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  bool running_ = false;
};

Server::Server(ServerOptions options, ServerDeps deps)
    : impl_(std::make_unique<Impl>(std::move(options), deps)) {}

Server::~Server() = default;

Status Server::Start() { return impl_->Start(); }

const std::vector<BoundAddress>& Server::addresses() const {
  return impl_->addresses_;
}

uint16_t Server::tcp_port() const { return impl_->tcp_port_; }

ServerStats Server::Stats() const {
  const ServerState& s = *impl_->state_;
  return ServerStats{s.connections.load(), s.accepted.load(), s.rejected.load(),
                     s.in_flight.load()};
}

void Server::Shutdown() { impl_->Shutdown(); }

}  // namespace sanpool::agent
