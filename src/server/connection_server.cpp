#include "server/connection_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "server/api_error.h"
#include "server/tls_transport.h"
#include "util/log.h"

namespace ragd::server {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Chunked framing on top of the body's own bytes, within the body budget.
constexpr size_t kFramingSlack = 64u << 10;
// How long a refused or failed connection is drained before it is closed, so that the
// client reads our answer instead of a reset.
constexpr milliseconds kLingerTime{2000};

thread_local DeadlineStream* t_stream = nullptr;
thread_local bool t_close = false;

// httplib accepts only CRLF line ends, so only a CRLF blank line ends the headers.
bool headers_complete(const std::string& buffer) { return buffer.find("\r\n\r\n") != std::string::npos; }

// A complete error response, closing the connection.
std::string refusal(int status, const char* reason, const std::string& message, bool retry_after) {
  std::string body = error_body(status, message).dump();
  std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                     "\r\nContent-Type: application/json\r\nConnection: close\r\n" +
                     (retry_after ? "Retry-After: 1\r\n" : "") + "Content-Length: " + std::to_string(body.size()) +
                     "\r\n\r\n";
  return head + body;
}

// The task queue httplib's accept loop feeds: it runs each job (process_and_close_socket
// for a new socket) at once on the accept thread, where the override only registers the
// socket with reception.
class HandOffQueue : public httplib::TaskQueue {
 public:
  explicit HandOffQueue(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override { on_shutdown_(); }

 private:
  std::function<void()> on_shutdown_;
};

}  // namespace

struct ConnectionServer::Pending {
  std::unique_ptr<Transport> io;  // owns the socket: a dropped Pending is a closed connection
  short events = POLLIN;          // what reception polls for (a TLS handshake may need POLLOUT)
  bool established = false;       // the transport's handshake is done
  std::string buffer;             // bytes of the next request received so far
  Clock::time_point deadline;     // closed when it passes
  bool idle = false;              // kept alive, no byte of the next request yet
  bool closing = false;           // answered; drained until EOF or the deadline, then closed
  size_t served = 0;              // requests served on this connection
};

class ConnectionServer::Reception {
 public:
  explicit Reception(ConnectionServer& owner) : owner_(owner), wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Reception() { stop(); }

  // Thread-safe. After stop() the connection is closed at once.
  void add(Pending p) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // closed as `p` goes
      incoming_.push_back(std::move(p));
    }
    uint64_t one = 1;
    (void)::write(wake_, &one, sizeof(one));
  }

  // Answers `status` and drains the connection for a moment before closing it. The answer
  // is written without waiting (the socket buffer of a connection that has not read
  // anything yet has room for it); a client that cannot take it loses it.
  void refuse(Pending p, int status, const char* reason, const std::string& message) {
    std::string text = refusal(status, reason, message, status == 503);
    (void)p.io->send(text.data(), text.size());
    if (owner_.on_refused_) owner_.on_refused_(status);
    linger(std::move(p));
  }

  void linger(Pending p) {
    p.io->close_write();
    p.events = POLLIN;
    p.closing = true;
    p.buffer.clear();
    p.deadline = Clock::now() + kLingerTime;
    add(std::move(p));
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    uint64_t one = 1;
    (void)::write(wake_, &one, sizeof(one));
    if (thread_.joinable()) thread_.join();
    incoming_.clear();
    ::close(wake_);
  }

 private:
  void run();
  // Reads what the socket has; false when the connection is finished with (closed or
  // handed on).
  bool on_readable(Pending& p);
  // Advances the transport's handshake; false when the connection is finished with.
  bool establish(Pending& p);

  ConnectionServer& owner_;
  int wake_;
  std::mutex mu_;
  std::vector<Pending> incoming_;
  bool stopping_ = false;
  std::thread thread_;
};

void ConnectionServer::Reception::run() {
  std::vector<Pending> conns;
  std::vector<pollfd> fds;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
      for (auto& p : incoming_) conns.push_back(std::move(p));
      incoming_.clear();
    }
    // Over the cap, the longest-waiting connections go first: a slow client cannot keep
    // an unbounded number of sockets and buffers.
    if (conns.size() > owner_.limits_.max_pending) {
      size_t excess = conns.size() - owner_.limits_.max_pending;
      conns.erase(conns.begin(), conns.begin() + static_cast<ptrdiff_t>(excess));
    }
    auto now = Clock::now();
    auto next_deadline = now + milliseconds(1000);
    // Bytes a TLS session already holds are not visible to poll(): serve them at once.
    bool buffered = false;
    std::vector<Pending> live;
    live.reserve(conns.size());
    for (auto& p : conns) {
      if (now < p.deadline) {
        next_deadline = std::min(next_deadline, p.deadline);
        buffered = buffered || (!p.closing && p.io->has_pending());
        live.push_back(std::move(p));
      } else if (p.closing || p.idle || p.buffer.empty()) {
        // Closed as `p` goes; this includes a TLS client that never finished its handshake.
      } else {
        refuse(std::move(p), 408, "Request Timeout", "request headers not received in time");
      }
    }
    conns = std::move(live);
    fds.assign(1, pollfd{wake_, POLLIN, 0});
    for (const auto& p : conns) fds.push_back(pollfd{p.io->fd(), p.events, 0});
    auto wait = std::chrono::duration_cast<milliseconds>(next_deadline - now).count();
    int r = ::poll(fds.data(), fds.size(), buffered ? 0 : static_cast<int>(std::max<long long>(wait, 0) + 1));
    if (r < 0 && errno != EINTR) {
      log::error("connection reception: poll failed: {}", std::strerror(errno));
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (r < 0 || (r == 0 && !buffered)) continue;
    if (fds[0].revents) {
      uint64_t n;
      (void)::read(wake_, &n, sizeof(n));
    }
    std::vector<Pending> keep;
    keep.reserve(conns.size());
    for (size_t i = 0; i < conns.size(); ++i) {
      bool ready = fds[i + 1].revents != 0 || (!conns[i].closing && conns[i].io->has_pending());
      if (!ready || on_readable(conns[i])) keep.push_back(std::move(conns[i]));
    }
    conns = std::move(keep);
  }
}

bool ConnectionServer::Reception::establish(Pending& p) {
  switch (p.io->handshake(p.events)) {
    case Transport::Handshake::Done:
      p.established = true;
      p.events = POLLIN;
      return true;
    case Transport::Handshake::Wait:
      return true;
    case Transport::Handshake::NotTls: {
      // Answered in plain text, on the socket itself: the client cannot read TLS.
      std::string text = refusal(400, "Bad Request", "this port serves HTTPS: use an https:// URL", false);
      (void)::send(p.io->fd(), text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (owner_.on_refused_) owner_.on_refused_(400);
      linger(std::move(p));
      return false;
    }
    case Transport::Handshake::Failed:
      log::debug("TLS handshake failed: {}", p.io->error());
      return false;
  }
  return false;
}

bool ConnectionServer::Reception::on_readable(Pending& p) {
  const auto& limits = owner_.limits_;
  char buf[4096];
  if (!p.closing && !p.established) {
    if (!establish(p)) return false;  // closed, or answered and lingering
    if (!p.established) return true;  // the handshake goes on
  }
  // A bounded amount per wake-up, so one fast sender cannot monopolize this thread.
  for (size_t round = 0;; ++round) {
    if (round == 16) return true;
    if (p.closing) {
      // Drained from the socket itself: what a closing client still sends is discarded.
      ssize_t n = ::recv(p.io->fd(), buf, sizeof(buf), MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
      if (n <= 0) return false;
      continue;
    }
    Transport::Io r = p.io->recv(buf, sizeof(buf));
    if (r.n == 0 || (r.n < 0 && r.wait == 0)) return false;
    if (r.n < 0) {
      p.events = r.wait;  // nothing more for now
      return true;
    }
    auto n = static_cast<size_t>(r.n);
    p.events = POLLIN;
    if (p.idle) {
      // The next request has begun: its headers get the full header timeout.
      p.idle = false;
      p.deadline = Clock::now() + limits.header_timeout;
    }
    p.buffer.append(buf, n);
    if (headers_complete(p.buffer)) break;
    if (p.buffer.size() > limits.max_header_bytes) {
      refuse(std::move(p), 431, "Request Header Fields Too Large",
             "request headers larger than " + std::to_string(limits.max_header_bytes) + " bytes");
      return false;
    }
  }
  if (owner_.active_.load() >= limits.max_connections) {
    refuse(std::move(p), 503, "Service Unavailable",
           "server busy: " + std::to_string(limits.max_connections) + " requests in progress; retry shortly");
    return false;
  }
  ++owner_.active_;
  owner_.workers_->enqueue([this, conn = std::make_shared<Pending>(std::move(p))] { owner_.serve(std::move(*conn)); });
  return false;
}

ConnectionServer::ConnectionServer(ConnectionLimits limits, std::function<void(int)> on_refused)
    : limits_(limits), on_refused_(std::move(on_refused)) {
  limits_.max_connections = std::clamp<size_t>(limits_.max_connections, 1, std::max<size_t>(limits_.workers, 1));
  workers_ = std::make_unique<httplib::ThreadPool>(std::max<size_t>(limits_.workers, 1));
  reception_ = std::make_unique<Reception>(*this);
  new_task_queue = [this] { return new HandOffQueue([this] { shut_down(); }); };
  set_payload_max_length(limits_.max_body_bytes);
  set_keep_alive_timeout(std::max<time_t>(1, limits_.keep_alive_timeout.count() / 1000));
  set_keep_alive_max_count(std::max<size_t>(1, limits_.keep_alive_max_requests));
  set_read_timeout(std::chrono::duration_cast<std::chrono::microseconds>(limits_.read_timeout));
  set_write_timeout(std::chrono::duration_cast<std::chrono::microseconds>(limits_.write_timeout));
  set_socket_options([](::socket_t fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (t_stream) {
      t_stream->begin_body(Clock::now() + limits_.body_timeout, limits_.max_body_bytes + kFramingSlack);
      // RFC 9112 §6.3: without Content-Length or chunked framing a request has no body
      // (httplib would read until the client closes).
      std::string framing = req.get_header_value("Transfer-Encoding");
      std::transform(framing.begin(), framing.end(), framing.begin(), [](unsigned char c) { return std::tolower(c); });
      if (!req.has_header("Content-Length") && framing.find("chunked") == std::string::npos) {
        t_stream->end_body();
      }
    }
    if (!declared_too_large(req)) return HandlerResponse::Unhandled;
    res.status = 413;
    res.set_header("Connection", "close");
    return HandlerResponse::Handled;
  });
  // "Expect: 100-continue" is answered before routing: refuse an oversized body there, so
  // the client never sends it.
  set_expect_100_continue_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (!declared_too_large(req)) return 100;
    res.status = 413;
    res.set_header("Connection", "close");
    return 413;
  });
}

ConnectionServer::~ConnectionServer() { shut_down(); }

bool ConnectionServer::declared_too_large(const httplib::Request& req) const {
  if (!req.has_header("Content-Length") || req.get_header_value<uint64_t>("Content-Length") <= limits_.max_body_bytes) {
    return false;
  }
  // Answered before any of the body is read, which then never is: the connection closes
  // after the response.
  t_close = true;
  return true;
}

void ConnectionServer::shut_down() {
  std::call_once(shut_down_, [this] {
    reception_->stop();
    workers_->shutdown();  // finishes the requests in progress
  });
}

bool ConnectionServer::apply_backlog() { return ::listen(svr_sock_, limits_.listen_backlog) == 0; }

DeadlineStream::Failure ConnectionServer::current_failure() {
  return t_stream ? t_stream->failure() : DeadlineStream::Failure::None;
}

void ConnectionServer::close_after_response() { t_close = true; }

bool ConnectionServer::process_and_close_socket(::socket_t sock) {
  int yes = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  Pending p;
  if (tls_) {
    p.io = std::make_unique<TlsTransport>(sock, tls_);
  } else {
    p.io = std::make_unique<Transport>(sock);
  }
  p.deadline = Clock::now() + limits_.header_timeout;
  reception_->add(std::move(p));
  return true;
}

void ConnectionServer::serve(Pending conn) {
  while (true) {
    DeadlineStream strm(*conn.io, std::move(conn.buffer), limits_.read_timeout, limits_.write_timeout);
    strm.set_deadline(Clock::now() + limits_.header_timeout);
    t_stream = &strm;
    t_close = false;
    bool last = conn.served + 1 >= limits_.keep_alive_max_requests || !is_running();
    bool closed = false;
    bool ok = process_request(strm, last, closed, nullptr);
    t_stream = nullptr;
    ++conn.served;
    bool failed = strm.failure() != DeadlineStream::Failure::None;
    if (!ok || closed || last || t_close || failed || !is_running()) {
      --active_;
      // A closed connection is dropped (and its socket closed) here.
      if (!failed || strm.failure() != DeadlineStream::Failure::Closed) reception_->linger(std::move(conn));
      return;
    }
    conn.buffer = strm.take_buffered();
    if (!headers_complete(conn.buffer)) {
      // Idle between requests: wait in reception, not on this thread.
      conn.idle = conn.buffer.empty();
      conn.deadline = Clock::now() + (conn.idle ? limits_.keep_alive_timeout : limits_.header_timeout);
      --active_;
      reception_->add(std::move(conn));
      return;
    }
  }
}

}  // namespace ragd::server
