// PostgresProcess: a throwaway PostgreSQL server (Debian's postgresql package) for tests:
// initdb into a temporary directory, then `postgres` on a free 127.0.0.1 port with its
// unix socket in the same directory, without fsync (nothing must survive the test), killed
// and removed at the end. absent() is true when the server binaries are not installed:
// tests then GTEST_SKIP with kSkipReason.
//
// PostgreSQL refuses to run as root; when the test runs as root, initdb and the server run
// as the 'postgres' user (created by the Debian package), or 'nobody'.
#pragma once

#include <fcntl.h>
#include <glob.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace ragd::testing {

// The newest installed server's bin directory (/usr/lib/postgresql/N/bin), or "".
inline std::string find_postgres_bindir() {
  glob_t g{};
  std::string best;
  if (glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string bin = std::filesystem::path(g.gl_pathv[i]).parent_path().string();
      if (access((bin + "/initdb").c_str(), X_OK) == 0 && (best.empty() || bin > best)) best = bin;
    }
  }
  globfree(&g);
  return best;
}

inline int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

class PostgresProcess {
 public:
  static constexpr const char* kSkipReason =
      "PostgreSQL server binaries are not installed (apt-get install postgresql)";

  PostgresProcess() : bindir_(find_postgres_bindir()) {
    if (bindir_.empty()) return;
    char tmpl[] = "/tmp/ragd-pg-XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "";
    port_ = free_tcp_port();
    if (geteuid() == 0) {
      const passwd* pw = getpwnam("postgres");
      if (!pw) pw = getpwnam("nobody");
      if (pw) {
        uid_ = pw->pw_uid;
        gid_ = pw->pw_gid;
      }
    }
  }
  ~PostgresProcess() {
    stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  PostgresProcess(const PostgresProcess&) = delete;
  PostgresProcess& operator=(const PostgresProcess&) = delete;

  bool absent() const { return bindir_.empty(); }
  const std::string& dir() const { return dir_; }
  // A libpq URI of `database` over TCP on 127.0.0.1 (trust authentication, user ragd).
  std::string url(const std::string& database = "postgres") const {
    return "postgresql://ragd@127.0.0.1:" + std::to_string(port_) + "/" + database;
  }

  // initdb (first time only), then starts the server and waits until it accepts
  // connections. False, with the reason in error(), when anything fails.
  bool start() {
    if (absent() || dir_.empty() || port_ == 0) return fail_with("no binaries, directory or port");
    const std::string data = dir_ + "/data";
    if (!std::filesystem::exists(data)) {
      if (uid_ && chown(dir_.c_str(), uid_, gid_) != 0) return fail_with("chown of the temporary directory failed");
      int rc = run_and_wait({bindir_ + "/initdb", "-D", data, "-U", "ragd", "--auth=trust", "--no-sync", "-E",
                             "UTF8", "--locale=C"},
                            dir_ + "/initdb.log");
      if (rc != 0) return fail_with("initdb failed (see " + dir_ + "/initdb.log)");
    }
    pid_ = spawn({bindir_ + "/postgres", "-D", data, "-p", std::to_string(port_), "-k", dir_, "-c",
                  "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c",
                  "full_page_writes=off"},
                 dir_ + "/postgres.log");
    for (int i = 0; i < 600; ++i) {  // up to 30 s on a loaded machine
      if (PQping(url().c_str()) == PQPING_OK) return true;
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return fail_with("postgres exited at start (see " + dir_ + "/postgres.log)");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return fail_with("postgres did not accept connections within 30 s");
  }

  // Immediate shutdown (SIGQUIT): clients see their connections drop, as with a crash.
  // SIGKILL after 10 s, should SIGQUIT be ignored (an inherited disposition).
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGQUIT);
    for (int i = 0; i < 200 && waitpid(pid_, nullptr, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (i == 199) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
      }
    }
    pid_ = -1;
  }

  const std::string& error() const { return error_; }

 private:
  bool fail_with(std::string why) {
    error_ = std::move(why);
    return false;
  }

  pid_t spawn(const std::vector<std::string>& argv, const std::string& log) const {
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        if (uid_ && fchown(fd, uid_, gid_) != 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      if (uid_ && (setgid(gid_) != 0 || setuid(uid_) != 0)) _exit(126);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      execv(args[0], args.data());
      _exit(127);
    }
    return pid;
  }

  int run_and_wait(const std::vector<std::string>& argv, const std::string& log) const {
    pid_t pid = spawn(argv, log);
    int status = 0;
    if (pid <= 0 || waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  std::string bindir_;
  std::string dir_;
  std::string error_;
  int port_ = 0;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  pid_t pid_ = -1;
};

}  // namespace ragd::testing
