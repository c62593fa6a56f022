#include "rag/ingest/bounded_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <new>

#include "util/error.h"

namespace ragd::rag {
namespace {

// Status byte the child writes before its output.
constexpr char kOk = 'o', kThrew = 'e', kNoMemory = 'm', kTooBig = 'b';

// Virtual memory of this process (first field of /proc/self/statm, in pages); 0 if unknown.
size_t virtual_memory_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long long pages = 0;
  const int got = std::fscanf(f, "%llu", &pages);
  std::fclose(f);
  return got == 1 ? static_cast<size_t>(pages) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void child_main(int fd, pid_t parent, const std::function<std::string()>& work,
                             const ChildLimits& limits, size_t inherited_vm) {
  // Die with the parent rather than outlive it holding its inherited sockets.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  signal(SIGPIPE, SIG_DFL);
  const rlim_t as = inherited_vm + (static_cast<rlim_t>(limits.memory_mib) << 20);
  const rlimit mem{as, as};
  const rlimit cpu{limits.cpu_seconds, limits.cpu_seconds + 1};
  if (setrlimit(RLIMIT_AS, &mem) != 0 || setrlimit(RLIMIT_CPU, &cpu) != 0) _exit(1);
  char status = kOk;
  std::string out;
  try {
    out = work();
    if (out.size() > limits.max_output_bytes) {
      status = kTooBig;
      out.clear();
    }
  } catch (const std::bad_alloc&) {
    status = kNoMemory;
    out.clear();
  } catch (const std::exception& e) {
    status = kThrew;
    out = e.what();
  } catch (...) {
    status = kThrew;
    out = "unknown error";
  }
  const bool ok = write_all(fd, &status, 1) && write_all(fd, out.data(), out.size());
  _exit(ok ? 0 : 1);
}

// Reads the child's pipe until EOF, the deadline, or more than `cap` bytes.
enum class ReadEnd { Eof, Timeout, TooBig };
ReadEnd read_child(int fd, std::chrono::steady_clock::time_point deadline, size_t cap,
                   std::string& buf) {
  char chunk[65536];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return ReadEnd::Timeout;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) return ReadEnd::Eof;
    if (r <= 0) continue;
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ReadEnd::Eof;
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.size() > cap) return ReadEnd::TooBig;
  }
}

// Reaps `pid`; false when it did not exit normally with status 0.
bool reap(pid_t pid) {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return true;  // SIGCHLD ignored elsewhere: judge by the pipe alone
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

}  // namespace

ChildResult run_bounded_child(const std::function<std::string()>& work, const ChildLimits& limits) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("cannot start a parser process: {}", std::strerror(errno));
  const size_t inherited_vm = virtual_memory_bytes();
  const pid_t parent = ::getpid();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(limits.wall_seconds);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int err = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    fail("cannot start a parser process: {}", std::strerror(err));
  }
  if (pid == 0) {
    ::close(fds[0]);
    child_main(fds[1], parent, work, limits, inherited_vm);
  }
  ::close(fds[1]);
  std::string buf;
  const ReadEnd end = read_child(fds[0], deadline, limits.max_output_bytes + 1, buf);
  ::close(fds[0]);
  if (end != ReadEnd::Eof) ::kill(pid, SIGKILL);
  const bool clean_exit = reap(pid);
  if (end == ReadEnd::TooBig) return {ChildOutcome::OutputTooBig, {}};
  if (end == ReadEnd::Timeout || !clean_exit || buf.empty()) return {ChildOutcome::OutOfLimits, {}};
  const char status = buf[0];
  buf.erase(0, 1);
  switch (status) {
    case kOk: return {ChildOutcome::Ok, std::move(buf)};
    case kThrew: return {ChildOutcome::Failed, std::move(buf)};
    case kTooBig: return {ChildOutcome::OutputTooBig, {}};
    default: return {ChildOutcome::OutOfLimits, {}};
  }
}

}  // namespace ragd::rag
