#include "server/deadline_stream.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ragd::server {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

DeadlineStream::DeadlineStream(Transport& io, std::string buffered, milliseconds read_timeout,
                               milliseconds write_timeout)
    : io_(io), buffered_(std::move(buffered)), read_timeout_(read_timeout), write_timeout_(write_timeout) {}

void DeadlineStream::begin_body(Clock::time_point deadline, size_t max_bytes) {
  deadline_ = deadline;
  body_budget_ = max_bytes;
}

std::string DeadlineStream::take_buffered() {
  std::string rest = buffered_.substr(pos_);
  buffered_.clear();
  pos_ = 0;
  return rest;
}

bool DeadlineStream::wait_for(short events, milliseconds limit) const {
  auto end = Clock::now() + limit;
  while (true) {
    auto left = duration_cast<milliseconds>(end - Clock::now()).count();
    if (left < 0) left = 0;
    pollfd p{io_.fd(), events, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1 << 30)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    // POLLHUP with POLLIN still has data (or EOF) to read; an error never does.
    if (p.revents & (POLLERR | POLLNVAL)) return false;
    if ((events & POLLOUT) && (p.revents & POLLHUP)) return false;
    return true;
  }
}

bool DeadlineStream::is_readable() const {
  return has_buffered() || io_.has_pending() || wait_for(POLLIN, milliseconds(0));
}

bool DeadlineStream::is_writable() const { return wait_for(POLLOUT, write_timeout_); }

ssize_t DeadlineStream::read(char* ptr, size_t size) {
  if (body_ended_) return 0;
  if (has_buffered()) {
    size_t n = std::min(size, buffered_.size() - pos_);
    std::memcpy(ptr, buffered_.data() + pos_, n);
    pos_ += n;
    if (body_budget_ != static_cast<size_t>(-1)) body_budget_ = n > body_budget_ ? 0 : body_budget_ - n;
    return static_cast<ssize_t>(n);
  }
  if (failure_ != Failure::None) return -1;
  if (body_budget_ == 0) {
    failure_ = Failure::BodyTooLarge;
    return -1;
  }
  size = std::min(size, body_budget_);
  while (true) {
    auto limit = read_timeout_;
    if (deadline_ != Clock::time_point::max()) {
      limit = std::min(limit, duration_cast<milliseconds>(deadline_ - Clock::now()));
    }
    if (limit.count() < 0) {
      failure_ = Failure::Timeout;
      return -1;
    }
    // Received first, waited for after: a TLS transport may hold decrypted bytes that
    // poll() cannot see.
    Transport::Io r = io_.recv(ptr, size);
    if (r.n > 0) {
      if (body_budget_ != static_cast<size_t>(-1)) body_budget_ -= static_cast<size_t>(r.n);
      return r.n;
    }
    if (r.n == 0 || r.wait == 0) {
      failure_ = Failure::Closed;
      return r.n == 0 ? 0 : -1;
    }
    if (!wait_for(r.wait, limit)) {
      failure_ = Failure::Timeout;
      return -1;
    }
  }
}

ssize_t DeadlineStream::write(const char* ptr, size_t size) {
  size_t done = 0;
  while (done < size) {
    Transport::Io r = io_.send(ptr + done, size - done);
    if (r.n > 0) {
      done += static_cast<size_t>(r.n);
    } else if (r.wait == 0 || !wait_for(r.wait, write_timeout_)) {
      return -1;
    }
  }
  return static_cast<ssize_t>(done);
}

void DeadlineStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  socket_address(io_.fd(), true, ip, port);
}

void DeadlineStream::get_local_ip_and_port(std::string& ip, int& port) const {
  socket_address(io_.fd(), false, ip, port);
}

void socket_address(int fd, bool remote, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((remote ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  char host[NI_MAXHOST], serv[NI_MAXSERV];
  if (::getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) return;
  ip = host;
  port = std::atoi(serv);
}

}  // namespace ragd::server
