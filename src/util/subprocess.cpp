#include "util/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

extern char** environ;

namespace ragd {
namespace {

// posix_spawn's attribute and file-action objects, destroyed on every path.
struct SpawnSetup {
  posix_spawnattr_t attr;
  posix_spawn_file_actions_t actions;
  SpawnSetup() {
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&actions);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
};

// A started child: the destructor kills and reaps it if wait() was not reached (an
// exception from the output callback), so no zombie or orphan is left behind.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) fail("waitpid: {}", std::strerror(errno));
    }
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }

 private:
  pid_t pid_;
};

struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace

int run_program(const std::vector<std::string>& args, const ProgramOutputFn& on_output, bool merge_stderr) {
  if (args.empty()) fail("run_program: no program given");
  Fd read_end, write_end;
  if (on_output) {
    int fds[2];
    // O_CLOEXEC: a program another thread spawns meanwhile must not inherit this pipe.
    if (::pipe2(fds, O_CLOEXEC) != 0) fail("pipe: {}", std::strerror(errno));
    read_end.fd = fds[0];
    write_end.fd = fds[1];
  }
  SpawnSetup s;
  if (on_output) {
    posix_spawn_file_actions_adddup2(&s.actions, write_end.fd, STDOUT_FILENO);
    if (merge_stderr) posix_spawn_file_actions_adddup2(&s.actions, write_end.fd, STDERR_FILENO);
  } else {
    posix_spawn_file_actions_adddup2(&s.actions, STDERR_FILENO, STDOUT_FILENO);
  }
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);  // after the dup2s above
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&s.attr, &none);
  posix_spawnattr_setsigdefault(&s.attr, &defaults);
  posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (::posix_spawnp(&pid, argv[0], &s.actions, &s.attr, argv.data(), environ) != 0) return 127;
  Child child(pid);
  write_end.reset();  // the child holds the only write end: EOF when it exits
  if (on_output) {
    std::vector<uint8_t> buffer(1 << 20);
    for (;;) {
      const ssize_t n = ::read(read_end.fd, buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      on_output({buffer.data(), static_cast<size_t>(n)});
    }
  }
  return child.wait();
}

}  // namespace ragd
