#include "agent/server_state.h"

#include <sys/socket.h>

#include <vector>

#include "agent/metrics.h"

namespace sanpool::agent {

uint64_t ServerState::Register(std::weak_ptr<SessionBase> session) {
  MutexLock lock(mu_);
  uint64_t id = next_id_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

void ServerState::Unregister(uint64_t id) {
  MutexLock lock(mu_);
  sessions_.erase(id);
  if (sessions_.empty()) empty_.SignalAll();
}

namespace {
template <typename Fn>
void ForEachLive(Mutex& mu,
                 std::unordered_map<uint64_t, std::weak_ptr<SessionBase>>& map,
                 Fn fn) NO_THREAD_SAFETY_ANALYSIS {
  // Collect first: Drain/Abort may end a session, which unregisters.
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    MutexLock lock(mu);
    live.reserve(map.size());
    for (auto& [id, weak] : map) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) fn(*s);
}
}  // namespace

void ServerState::DrainAll() {
  ForEachLive(mu_, sessions_, [](SessionBase& s) { s.Drain(); });
}

void ServerState::AbortAll() {
  ForEachLive(mu_, sessions_, [](SessionBase& s) { s.Abort(); });
}

bool ServerState::WaitNoSessionsFor(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(mu_);
  while (!sessions_.empty()) {
    if (empty_.WaitUntil(mu_, deadline) == std::cv_status::timeout) {
      return sessions_.empty();
    }
  }
  return true;
}

size_t ServerState::SessionCount() const {
  MutexLock lock(mu_);
  return sessions_.size();
}

ConnectionSlot::ConnectionSlot(std::shared_ptr<ServerState> state,
                               std::string_view transport)
    : state_(std::move(state)), transport_(transport) {
  ++state_->connections;
  ++state_->accepted;
  state_->deps.metrics->ConnectionOpened(transport_);
}

ConnectionSlot::~ConnectionSlot() {
  if (state_ == nullptr) return;
  --state_->connections;
  state_->deps.metrics->ConnectionClosed(transport_);
}

void ConnectionSlot::Relabel(std::string_view transport) {
  state_->deps.metrics->ConnectionClosed(transport_);
  transport_ = transport;
  state_->deps.metrics->ConnectionOpened(transport_);
}

bool InFlight::Add() {
  if (state_.draining.load(std::memory_order_relaxed)) return false;
  if (count_ == 0) {
    token_ = state_.deps.gate->TryEnter();
    if (!token_) return false;
  }
  ++count_;
  ++state_.in_flight;
  return true;
}

void InFlight::Remove() {
  --count_;
  --state_.in_flight;
  if (count_ == 0) token_.reset();
}


namespace {
std::string TcpPeer(boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "unknown";
  auto addr = ep.address();
  std::string host = addr.to_string();
  if (addr.is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}
}  // namespace

std::string PeerName(TlsStream& s) {
  return TcpPeer(boost::beast::get_lowest_layer(s).socket());
}
std::string PeerName(TcpStream& s) { return TcpPeer(s.socket()); }
std::string PeerName(UnixStream& s) {
  struct ucred cred {};
  socklen_t len = sizeof cred;
  if (::getsockopt(s.socket().native_handle(), SOL_SOCKET, SO_PEERCRED, &cred,
                   &len) == 0) {
    return "unix:pid=" + std::to_string(cred.pid) +
           ",uid=" + std::to_string(cred.uid);
  }
  return "unix";
}

}  // namespace sanpool::agent
