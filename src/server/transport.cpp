#include "server/transport.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ragd::server {

Transport::~Transport() { ::close(fd_); }

Transport::Io Transport::recv(char* buf, size_t size) {
  ssize_t n = ::recv(fd_, buf, size, MSG_DONTWAIT);
  if (n >= 0) return {n, 0};
  bool again = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  return {-1, static_cast<short>(again ? POLLIN : 0)};
}

Transport::Io Transport::send(const char* buf, size_t size) {
  ssize_t n = ::send(fd_, buf, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n >= 0) return {n, 0};
  bool again = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
  return {-1, static_cast<short>(again ? POLLOUT : 0)};
}

void Transport::close_write() { ::shutdown(fd_, SHUT_WR); }

}  // namespace ragd::server
