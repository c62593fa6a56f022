#include "util/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace ragd {
namespace {

std::string last_error() { return std::strerror(errno); }

void fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("cannot open {} to sync it: {}", path.string(), last_error());
  const int rc = ::fsync(fd);
  const int err = rc != 0 ? errno : 0;
  ::close(fd);
  // Some file systems cannot fsync a directory (EINVAL); the rename is still atomic there.
  if (rc != 0 && !((flags & O_DIRECTORY) && err == EINVAL)) {
    fail("cannot sync {}: {}", path.string(), std::strerror(err));
  }
}

}  // namespace

void write_file_durably(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write {}: {}", tmp.string(), last_error());
  std::string err;
  for (size_t done = 0; done < bytes.size() && err.empty();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? last_error() : "short write";
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (err.empty() && ::fsync(fd) != 0) err = last_error();
  if (::close(fd) != 0 && err.empty()) err = last_error();
  if (!err.empty()) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail("cannot write {}: {}", path.string(), err);
  }
  commit_file_durably(tmp, path);
}

void commit_file_durably(const std::filesystem::path& tmp, const std::filesystem::path& path) {
  try {
    fsync_path(tmp, O_RDONLY);
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail("cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message());
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace ragd
