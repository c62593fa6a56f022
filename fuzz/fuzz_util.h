// Helpers shared by the fuzz targets (fuzz/fuzz_*.cpp).
//
// Every target defines LLVMFuzzerTestOneInput and is linked either with libFuzzer (clang,
// RAGD_FUZZ=ON: coverage-guided campaigns under ASan+UBSan) or with replay_main.cpp (any
// compiler: replays seed files plus deterministic mutations of them, the CTest smoke).
// A target swallows only the errors its parser documents for bad input (ragd::Error, or
// ApiError for request parsing); anything else escaping it (another exception type, a
// crash, a sanitizer report) is a finding.
#pragma once

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::fuzz {

// Parsers log skipped records and recoverable problems; at fuzzing rates that is only noise.
inline const bool kQuietLogs = (spdlog::set_level(spdlog::level::off), true);

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits `text` at every `sep` byte (the field layout targets with several inputs use).
inline std::vector<std::string_view> split_fields(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t end = text.find(sep, start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

// A private directory under $TMPDIR for parsers that only read files; removed at exit.
// One per process (libFuzzer runs inputs one at a time in a process).
class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ragd-fuzz-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `bytes` to path()/name (replacing it) and returns the full path.
  std::filesystem::path write(const std::string& name, std::string_view bytes) const {
    std::filesystem::path p = path_ / name;
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      std::fprintf(stderr, "fuzz: cannot write %s\n", p.c_str());
      std::abort();
    }
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Asserts a property the fuzz target checks beyond "does not crash".
#define RAGD_FUZZ_CHECK(cond)                                                   \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                                  \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

}  // namespace ragd::fuzz
