#include "agent/http_session.h"

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "agent/metrics.h"
#include "agent/rpc_dispatcher.h"
#include "agent/ws_session.h"
#include "base/log.h"

namespace sanpool::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kReadChunk = 16 * 1024;
constexpr std::chrono::seconds kLingerTimeout{2};

using Response = http::response<http::string_body>;

// One request read and not yet answered, in request order. `body` keeps the
// RPC request text alive while the dispatcher works on it.
struct Slot {
  bool ready = false;
  bool counted = false;  // holds an InFlight entry
  bool keep_alive = true;
  std::string body;
  Response response;
};

template <class Stream>
class HttpSession : public SessionBase,
                    public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  HttpSession(Stream&& stream, ConnectionSlot slot)
      : stream_(std::move(stream)),
        slot_(std::move(slot)),
        state_(slot_.shared_state()),
        options_(state_->options),
        idle_timer_(stream_.get_executor()),
        buffer_(options_.max_request_bytes + kHeaderLimit + kReadChunk),
        in_flight_(*state_) {
    ctx_.peer = PeerName(stream_);
    ctx_.transport = std::string(slot_.transport());
  }

  ~HttpSession() override {
    if (id_ != 0) state_->Unregister(id_);
  }

  void Run() {
    id_ = state_->Register(this->weak_from_this());
    asio::dispatch(stream_.get_executor(),
                   [self = this->shared_from_this()] { self->Begin(); });
  }

  void Drain() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      self->draining_ = true;
      self->Flush();
    });
  }

  void Abort() override {
    asio::post(stream_.get_executor(),
               [self = this->shared_from_this()] { self->CloseNow(); });
  }

 private:
  auto& Lowest() { return beast::get_lowest_layer(stream_); }
  auto Self() { return this->shared_from_this(); }

  void Begin() {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      Lowest().expires_after(options_.header_timeout);
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = Self()](beast::error_code ec) {
            if (ec) {
              log::Debug("rpc", "tls handshake failed",
                         {{"peer", self->ctx_.peer}, {"error", ec.message()}});
              self->CloseNow();
              return;
            }
            self->ReadNext();
          });
    } else {
      ReadNext();
    }
  }

  // Starts reading the next request unless reading is paused (in-flight
  // limit), stopped (closing, draining, upgrade) or already going.
  void ReadNext() {
    if (closed_ || reading_ || stop_reading_ || draining_) return;
    if (queue_.size() >= options_.max_in_flight_per_connection) return;
    reading_ = true;
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(options_.max_request_bytes);
    if (buffer_.size() > 0) {
      ReadHeader();
      return;
    }
    if (buffer_.capacity() > 4 * kReadChunk) buffer_.shrink_to_fit();
    // Waiting for the first byte of a request: only the idle timer applies,
    // and only while nothing is in flight (a slow method is not idleness).
    waiting_first_bytes_ = true;
    Lowest().expires_never();
    ArmIdleTimer();
    stream_.async_read_some(
        buffer_.prepare(kReadChunk),
        [self = Self()](beast::error_code ec, size_t n) {
          self->waiting_first_bytes_ = false;
          self->idle_timer_.cancel();
          if (ec) return self->OnReadError(ec);
          self->buffer_.commit(n);
          self->ReadHeader();
        });
  }

  void ArmIdleTimer() {
    if (!waiting_first_bytes_ || !queue_.empty()) return;
    idle_timer_.expires_after(options_.idle_timeout);
    idle_timer_.async_wait([self = Self()](beast::error_code ec) {
      if (ec || !self->waiting_first_bytes_ || !self->queue_.empty()) return;
      if (self->idle_timer_.expiry() > asio::steady_timer::clock_type::now()) {
        return;  // re-armed after this wait had already fired
      }
      log::Debug("rpc", "idle timeout", {{"peer", self->ctx_.peer}});
      self->CloseNow();
    });
  }

  void ReadHeader() {
    Lowest().expires_after(options_.header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = Self()](beast::error_code ec, size_t) {
          if (ec) return self->OnReadError(ec);
          if (self->parser_->is_done()) return self->OnRequest();
          self->MaybeSendContinue();
          self->Lowest().expires_after(self->options_.body_timeout);
          http::async_read(self->stream_, self->buffer_, *self->parser_,
                           [self](beast::error_code ec2, size_t) {
                             if (ec2) return self->OnReadError(ec2);
                             self->OnRequest();
                           });
        });
  }

  // curl and others wait (1 s) for "100 Continue" before sending a body
  // when they asked with Expect. Sent only when nothing else is being written
  // (with pipelined responses pending the client simply waits it out); the
  // body read runs concurrently.
  void MaybeSendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    auto expect = parser_->get()[http::field::expect];
    if (!beast::iequals(expect, "100-continue") || writing_ || !queue_.empty()) {
      return;
    }
    writing_ = true;
    Lowest().expires_after(options_.write_timeout);
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = Self()](beast::error_code ec, size_t) {
                        self->writing_ = false;
                        if (ec) return self->CloseNow();
                        self->Flush();
                      });
  }

  void OnReadError(beast::error_code ec) {
    reading_ = false;
    if (closed_) return;
    if (ec == http::error::body_limit || ec == http::error::buffer_overflow) {
      return RespondAndClose(http::status::payload_too_large,
                             "request too large\n");
    }
    if (ec == http::error::header_limit) {
      return RespondAndClose(http::status::request_header_fields_too_large,
                             "header too large\n");
    }
    if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return RespondAndClose(http::status::bad_request, "bad request\n");
    }
    // EOF, reset, timeout (the stream is already closed), TLS errors: the
    // peer is gone or misbehaving. Answer what is in flight if we still can.
    if (ec == beast::error::timeout) {
      log::Debug("rpc", "read timeout", {{"peer", ctx_.peer}});
      return CloseNow();
    }
    stop_reading_ = true;
    Flush();
  }

  void OnRequest() {
    reading_ = false;
    HttpRequest req = parser_->release();
    parser_.reset();
    const bool keep_alive = req.keep_alive();
    if (!keep_alive) stop_reading_ = true;

    std::string_view target = req.target();
    if (auto q = target.find('?'); q != std::string_view::npos) {
      target = target.substr(0, q);
    }
    if (target == "/rpc") {
      if (beast::websocket::is_upgrade(req)) {
        stop_reading_ = true;
        upgrade_.emplace(std::move(req));
        Flush();
        return;
      }
      if (req.method() != http::verb::post) {
        Simple(http::status::method_not_allowed, "POST\n", keep_alive, "POST");
      } else {
        DispatchRpc(std::move(req.body()), keep_alive);
      }
    } else if (target == "/healthz") {
      if (req.method() != http::verb::get) {
        Simple(http::status::method_not_allowed, "GET\n", keep_alive, "GET");
      } else if (state_->draining) {
        Simple(http::status::service_unavailable, "draining\n", keep_alive);
      } else {
        Simple(http::status::ok, "ok\n", keep_alive);
      }
    } else if (target == "/metrics") {
      if (req.method() != http::verb::get) {
        Simple(http::status::method_not_allowed, "GET\n", keep_alive, "GET");
      } else {
        Slot& slot = Push(keep_alive);
        SetResponse(slot, http::status::ok,
                    state_->deps.metrics->RenderPrometheus(),
                    "text/plain; version=0.0.4; charset=utf-8");
      }
    } else {
      Simple(http::status::not_found, "not found\n", keep_alive);
    }
    ReadNext();
    Flush();
  }

  Slot& Push(bool keep_alive) {
    Slot& slot = queue_.emplace_back();
    slot.keep_alive = keep_alive;
    return slot;
  }

  void Simple(http::status status, std::string body, bool keep_alive,
              std::string_view allow = {}) {
    Slot& slot = Push(keep_alive);
    SetResponse(slot, status, std::move(body), "text/plain; charset=utf-8");
    if (!allow.empty()) slot.response.set(http::field::allow, allow);
  }

  void SetResponse(Slot& slot, http::status status, std::string body,
                   std::string_view content_type) {
    Response& res = slot.response;
    res.version(11);
    res.result(status);
    res.keep_alive(slot.keep_alive);
    if (!body.empty()) res.set(http::field::content_type, content_type);
    res.body() = std::move(body);
    res.prepare_payload();
    slot.ready = true;
  }

  void DispatchRpc(std::string body, bool keep_alive) {
    const uint64_t seq = front_seq_ + queue_.size();
    Slot& slot = Push(keep_alive);
    if (!in_flight_.Add()) {
      SetResponse(slot, http::status::service_unavailable,
                  "shutting down\n", "text/plain; charset=utf-8");
      return;
    }
    slot.counted = true;
    slot.body = std::move(body);
    // The dispatcher may call back inline (then dispatch() runs Complete at
    // once, no posting) or from a worker thread (then it is posted to our
    // strand).
    state_->deps.dispatcher->Handle(
        slot.body, ctx_, [self = Self(), seq](std::string out) mutable {
          auto ex = self->stream_.get_executor();
          asio::dispatch(ex, [self = std::move(self), seq,
                              out = std::move(out)]() mutable {
            self->Complete(seq, std::move(out));
          });
        });
  }

  void Complete(uint64_t seq, std::string out) {
    if (seq < front_seq_ || seq - front_seq_ >= queue_.size()) return;
    Slot& slot = queue_[seq - front_seq_];
    slot.body.clear();
    slot.body.shrink_to_fit();
    if (out.empty()) {
      SetResponse(slot, http::status::no_content, {}, {});
    } else {
      SetResponse(slot, http::status::ok, std::move(out), "application/json");
    }
    Flush();
  }

  void RespondAndClose(http::status status, std::string body) {
    stop_reading_ = true;
    Simple(status, std::move(body), /*keep_alive=*/false);
    Flush();
  }

  // Writes the next response if it is ready; when nothing is left, upgrades,
  // closes or resumes reading as the state asks.
  void Flush() {
    if (closed_ || writing_) return;
    if (queue_.empty()) {
      if (upgrade_) return Upgrade();
      if (draining_ || (stop_reading_ && !reading_)) return CloseNow();
      if (waiting_first_bytes_) return ArmIdleTimer();
      return ReadNext();
    }
    if (!queue_.front().ready) return;
    writing_ = true;
    Lowest().expires_after(options_.write_timeout);
    http::async_write(stream_, queue_.front().response,
                      [self = Self()](beast::error_code ec, size_t) {
                        self->OnWrite(ec);
                      });
  }

  void OnWrite(beast::error_code ec) {
    writing_ = false;
    if (ec) {
      log::Debug("rpc", "write failed",
                 {{"peer", ctx_.peer}, {"error", ec.message()}});
      return CloseNow();
    }
    Slot& done = queue_.front();
    const bool keep_alive = done.keep_alive;
    if (done.counted) in_flight_.Remove();
    queue_.pop_front();
    ++front_seq_;
    if (!keep_alive) return LingerClose();
    ReadNext();
    Flush();
  }

  void Upgrade() {
    closed_ = true;  // the stream belongs to the WebSocket session now
    idle_timer_.cancel();
    Lowest().expires_never();
    StartWsSession(std::move(stream_), std::move(slot_), std::move(*upgrade_));
    upgrade_.reset();
  }

  // After a final response (413, Connection: close): drain what the peer
  // still sends (a rejected body) for a moment so that it reads the response
  // instead of getting a reset, then close. Plain sockets also send our FIN
  // first; TLS skips close_notify, which would make OpenSSL refuse the data.
  void LingerClose() {
    if (closed_) return;
    closed_ = true;
    idle_timer_.cancel();
    Lowest().expires_after(kLingerTimeout);
    if constexpr (!std::is_same_v<Stream, TlsStream>) {
      beast::error_code ec;
      Lowest().socket().shutdown(asio::socket_base::shutdown_send, ec);
    }
    Discard();
  }

  void Discard() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = Self()](beast::error_code ec, size_t) {
                              if (ec) return self->Lowest().close();
                              self->Discard();
                            });
  }

  void CloseNow() {
    if (closed_) return;
    closed_ = true;
    idle_timer_.cancel();
    beast::error_code ec;
    Lowest().socket().shutdown(asio::socket_base::shutdown_both, ec);
    Lowest().close();
  }

  Stream stream_;
  ConnectionSlot slot_;
  std::shared_ptr<ServerState> state_;
  const ServerOptions& options_;
  asio::steady_timer idle_timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<Slot> queue_;
  uint64_t front_seq_ = 0;  // sequence number of queue_.front()
  InFlight in_flight_;
  CallContext ctx_;
  std::optional<HttpRequest> upgrade_;
  uint64_t id_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool waiting_first_bytes_ = false;
  bool stop_reading_ = false;  // Connection: close, EOF, error, upgrade
  bool draining_ = false;
  bool closed_ = false;
};

template <class Stream>
void Start(Stream&& stream, ConnectionSlot slot) {
  std::make_shared<HttpSession<Stream>>(std::move(stream), std::move(slot))
      ->Run();
}

}  // namespace

void StartHttpSession(TlsStream stream, ConnectionSlot slot) {
  Start(std::move(stream), std::move(slot));
}
void StartHttpSession(TcpStream stream, ConnectionSlot slot) {
  Start(std::move(stream), std::move(slot));
}
void StartHttpSession(UnixStream stream, ConnectionSlot slot) {
  Start(std::move(stream), std::move(slot));
}

}  // namespace sanpool::agent
