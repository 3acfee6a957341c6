#include "agent/ws_session.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "agent/notifications.h"
#include "agent/rpc_dispatcher.h"
#include "base/log.h"

namespace sanpool::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

using Subscription = decltype(std::declval<NotificationHub&>().Subscribe(
    std::declval<std::function<void(const std::string&)>>()));

enum class OutKind { kResponse, kNotification };

struct OutMessage {
  std::string text;
  OutKind kind;
};

template <class Stream>
class WsSession : public SessionBase,
                  public std::enable_shared_from_this<WsSession<Stream>> {
 public:
  WsSession(Stream&& stream, ConnectionSlot slot)
      : ws_(std::move(stream)),
        slot_(std::move(slot)),
        state_(slot_.shared_state()),
        options_(state_->options),
        write_timer_(ws_.get_executor()),
        in_flight_(*state_) {
    ctx_.peer = PeerName(ws_.next_layer());
    if (slot_.transport() == "http") slot_.Relabel("ws");
    ctx_.transport = std::string(slot_.transport());
  }

  ~WsSession() override {
    sub_.reset();
    if (id_ != 0) state_->Unregister(id_);
  }

  void Run(HttpRequest req) {
    id_ = state_->Register(this->weak_from_this());
    upgrade_request_ = std::move(req);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = options_.header_timeout;
    timeouts.idle_timeout = options_.idle_timeout;
    // Pings keep quiet subscribers connected and detect dead peers.
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.read_message_max(options_.max_request_bytes);
    ws_.text(true);
    ws_.async_accept(upgrade_request_, [self = Self()](beast::error_code ec) {
      self->upgrade_request_ = {};
      if (ec) {
        log::Debug("rpc", "websocket handshake failed",
                   {{"peer", self->ctx_.peer}, {"error", ec.message()}});
        return self->CloseNow();
      }
      self->Subscribe();
      self->ReadNext();
    });
  }

  void Drain() override {
    asio::post(ws_.get_executor(), [self = Self()] {
      self->draining_ = true;
      self->Flush();
    });
  }

  void Abort() override {
    asio::post(ws_.get_executor(), [self = Self()] { self->CloseNow(); });
  }

 private:
  auto Self() { return this->shared_from_this(); }

  void Subscribe() {
    NotificationHub* hub = state_->deps.notifications;
    if (hub == nullptr) return;
    std::weak_ptr<WsSession> weak = Self();
    sub_.emplace(hub->Subscribe([weak](const std::string& text) {
      auto self = weak.lock();
      if (!self) return;
      auto ex = self->ws_.get_executor();
      asio::post(ex, [self = std::move(self), text] {
        self->Enqueue(std::string(text), OutKind::kNotification);
      });
    }));
  }

  void ReadNext() {
    if (closed_ || closing_ || reading_ || draining_) return;
    if (in_flight_.count() >= options_.max_in_flight_per_connection) return;
    reading_ = true;
    ws_.async_read(buffer_, [self = Self()](beast::error_code ec, size_t) {
      self->reading_ = false;
      if (ec) {
        if (ec != websocket::error::closed) {
          log::Debug("rpc", "websocket read ended",
                     {{"peer", self->ctx_.peer}, {"error", ec.message()}});
        }
        return self->CloseNow();
      }
      self->OnMessage();
    });
  }

  void OnMessage() {
    auto body = std::make_shared<std::string>(
        beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    if (!in_flight_.Add()) {
      // Shutting down: no new requests; close once the rest is written.
      draining_ = true;
      return Flush();
    }
    state_->deps.dispatcher->Handle(
        *body, ctx_,
        [self = Self(), body](std::string out) mutable {
          auto ex = self->ws_.get_executor();
          asio::dispatch(ex, [self = std::move(self),
                              out = std::move(out)]() mutable {
            self->OnResponse(std::move(out));
          });
        });
    ReadNext();
  }

  void OnResponse(std::string out) {
    if (out.empty()) {  // only notifications: nothing to send
      in_flight_.Remove();
      ReadNext();
      return Flush();
    }
    Enqueue(std::move(out), OutKind::kResponse);
  }

  void Enqueue(std::string text, OutKind kind) {
    if (closed_) return;
    if (queued_bytes_ + text.size() > options_.max_ws_queue_bytes) {
      log::Warning("rpc", "websocket client too slow, disconnecting",
                   {{"peer", ctx_.peer}, {"queued_bytes", queued_bytes_}});
      return CloseNow();
    }
    queued_bytes_ += text.size();
    out_.push_back(OutMessage{std::move(text), kind});
    Flush();
  }

  void Flush() {
    if (closed_ || closing_ || writing_) return;
    if (out_.empty()) {
      if (draining_ && in_flight_.count() == 0) CloseGracefully();
      return;
    }
    writing_ = true;
    write_timer_.expires_after(options_.write_timeout);
    write_timer_.async_wait([self = Self()](beast::error_code ec) {
      if (ec || !self->writing_) return;
      if (self->write_timer_.expiry() > asio::steady_timer::clock_type::now()) {
        return;
      }
      log::Warning("rpc", "websocket write timeout, disconnecting",
                   {{"peer", self->ctx_.peer}});
      self->CloseNow();
    });
    ws_.async_write(asio::buffer(out_.front().text),
                    [self = Self()](beast::error_code ec, size_t) {
                      self->OnWrite(ec);
                    });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    write_timer_.cancel();
    if (ec) return CloseNow();
    OutMessage& sent = out_.front();
    queued_bytes_ -= sent.text.size();
    if (sent.kind == OutKind::kResponse) in_flight_.Remove();
    out_.pop_front();
    ReadNext();
    Flush();
  }

  void CloseGracefully() {
    if (closing_ || closed_) return;
    closing_ = true;
    sub_.reset();
    ws_.async_close(websocket::close_code::going_away,
                    [self = Self()](beast::error_code) { self->CloseNow(); });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    sub_.reset();
    write_timer_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  websocket::stream<Stream> ws_;
  ConnectionSlot slot_;
  std::shared_ptr<ServerState> state_;
  const ServerOptions& options_;
  asio::steady_timer write_timer_;
  beast::flat_buffer buffer_;
  InFlight in_flight_;
  CallContext ctx_;
  HttpRequest upgrade_request_;
  std::optional<Subscription> sub_;
  std::deque<OutMessage> out_;
  size_t queued_bytes_ = 0;
  uint64_t id_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool draining_ = false;
  bool closing_ = false;
  bool closed_ = false;
};

template <class Stream>
void Start(Stream&& stream, ConnectionSlot slot, HttpRequest req) {
  std::make_shared<WsSession<Stream>>(std::move(stream), std::move(slot))
      ->Run(std::move(req));
}

}  // namespace

void StartWsSession(TlsStream&& stream, ConnectionSlot slot, HttpRequest req) {
  Start(std::move(stream), std::move(slot), std::move(req));
}
void StartWsSession(TcpStream&& stream, ConnectionSlot slot, HttpRequest req) {
  Start(std::move(stream), std::move(slot), std::move(req));
}
void StartWsSession(UnixStream&& stream, ConnectionSlot slot,
                    HttpRequest req) {
  Start(std::move(stream), std::move(slot), std::move(req));
}

}  // namespace sanpool::agent
