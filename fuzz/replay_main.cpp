// Standalone driver for the fuzz targets when they are not linked with libFuzzer (any
// compiler; the CTest smoke). Usage, a subset of libFuzzer's:
//   fuzz_X [-mutations=N] [-seed=S] [-max_total_time=SEC] FILE_OR_DIR... [-regressions PATH...]
// Every file (directories are walked recursively, in sorted order) is run once, then N
// deterministic mutants of it (bit flips, interesting bytes, truncation, slice copy/erase).
// Files after -regressions are only run once (inputs that once crashed a parser).
// Unknown -flags are ignored so libFuzzer command lines also work.
//
// Crashes: before each run the input is kept in a buffer; SIGSEGV/SIGABRT/SIGBUS/SIGFPE/
// SIGILL (an uncaught exception ends in SIGABRT) write it to ./crash-replay-<target> with
// async-signal-safe calls, so a failing mutant can be reproduced with
//   fuzz_X crash-replay-<target>   (or fed to the libFuzzer build).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

namespace fs = std::filesystem;

// The input being run, for the crash handler (written before each run).
std::vector<uint8_t> g_current;
char g_crash_path[512] = "crash-replay";

void on_fatal_signal(int sig) {
  int fd = ::open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    size_t off = 0;
    while (off < g_current.size()) {
      ssize_t n = ::write(fd, g_current.data() + off, g_current.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(fd);
    const char msg[] = "fuzz replay: fatal signal; input written to ";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    ignored = ::write(2, g_crash_path, std::strlen(g_crash_path));
    ignored = ::write(2, "\n", 1);
    (void)ignored;
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void install_crash_handlers() {
  // An alternate stack so a stack overflow (deep recursion) still reaches the handler.
  static std::vector<char> alt(1 << 16);
  stack_t ss{};
  ss.ss_sp = alt.data();
  ss.ss_size = alt.size();
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_ONSTACK;
  for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL}) sigaction(sig, &sa, nullptr);
}

// xorshift64*: a fixed, platform-independent sequence so a smoke run is reproducible.
struct Rng {
  uint64_t s;
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
  size_t below(size_t n) { return n ? static_cast<size_t>(next() % n) : 0; }
};

void mutate(std::vector<uint8_t>& v, Rng& rng) {
  static const uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, '"', '{', '}', '[',
                                         ']', '<', '>', '\\', '\n', '#', '&', ':', '-', 0xc3,
                                         0xe2, 0xf0};
  const size_t ops = 1 + rng.below(4);
  for (size_t i = 0; i < ops; ++i) {
    switch (rng.below(6)) {
      case 0:  // flip one bit
        if (!v.empty()) v[rng.below(v.size())] ^= static_cast<uint8_t>(1u << rng.below(8));
        break;
      case 1:  // overwrite a byte with an interesting value
        if (!v.empty()) v[rng.below(v.size())] = kInteresting[rng.below(sizeof kInteresting)];
        break;
      case 2:  // truncate
        v.resize(rng.below(v.size() + 1));
        break;
      case 3: {  // erase a slice
        if (v.empty()) break;
        size_t at = rng.below(v.size());
        size_t n = 1 + rng.below(std::min<size_t>(v.size() - at, 64));
        v.erase(v.begin() + static_cast<long>(at), v.begin() + static_cast<long>(at + n));
        break;
      }
      case 4: {  // copy a slice elsewhere (repeats structure: nesting, tags, records)
        if (v.empty() || v.size() > (1u << 20)) break;
        size_t from = rng.below(v.size());
        size_t n = 1 + rng.below(std::min<size_t>(v.size() - from, 256));
        std::vector<uint8_t> slice(v.begin() + static_cast<long>(from),
                                   v.begin() + static_cast<long>(from + n));
        v.insert(v.begin() + static_cast<long>(rng.below(v.size() + 1)), slice.begin(), slice.end());
        break;
      }
      default: {  // overwrite 1, 2, 4 or 8 bytes with an extreme integer (lengths, counts)
        size_t width = size_t{1} << rng.below(4);
        if (v.size() < width) break;
        uint64_t value = rng.below(2) ? ~uint64_t{0} >> rng.below(64) : rng.next();
        std::memcpy(v.data() + rng.below(v.size() - width + 1), &value, width);
        break;
      }
    }
  }
}

void run(const std::vector<uint8_t>& input) {
  g_current = input;
  LLVMFuzzerTestOneInput(g_current.data(), g_current.size());
}

struct Input {
  fs::path path;
  bool mutate;
};

void collect(const fs::path& p, bool mutate, std::vector<Input>& out) {
  if (fs::is_directory(p)) {
    std::vector<fs::path> entries;
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      if (e.is_regular_file()) entries.push_back(e.path());
    }
    std::sort(entries.begin(), entries.end());
    for (const fs::path& e : entries) out.push_back({e, mutate});
  } else if (fs::is_regular_file(p)) {
    out.push_back({p, mutate});
  } else if (mutate) {  // a target without regressions has no regressions directory
    std::fprintf(stderr, "fuzz replay: no such file or directory: %s (skipped)\n", p.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t mutations = 0;
  uint64_t seed = 1;
  double max_seconds = 0;
  bool regressions = false;
  std::vector<Input> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.starts_with("-mutations=")) mutations = std::stoul(a.substr(11));
    else if (a.starts_with("-seed=")) seed = std::stoull(a.substr(6));
    else if (a.starts_with("-max_total_time=")) max_seconds = std::stod(a.substr(16));
    else if (a == "-regressions") regressions = true;
    else if (a.starts_with("-")) continue;
    else collect(a, !regressions, files);
  }
  std::snprintf(g_crash_path, sizeof g_crash_path, "crash-replay-%s",
                fs::path(argv[0]).filename().c_str());
  install_crash_handlers();
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);

  const auto start = std::chrono::steady_clock::now();
  auto out_of_time = [&] {
    return max_seconds > 0 &&
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > max_seconds;
  };
  Rng rng{seed * 0x9E3779B97F4A7C15ull | 1};
  size_t runs = 0, mutants = 0;
  run({});  // the empty input
  ++runs;
  for (const auto& [f, mutable_input] : files) {
    std::ifstream in(f, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    run(bytes);
    ++runs;
    for (size_t m = 0; mutable_input && m < mutations && !out_of_time(); ++m) {
      std::vector<uint8_t> v = bytes;
      mutate(v, rng);
      run(v);
      ++runs;
      ++mutants;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fuzz replay: %zu inputs (%zu files, %zu mutants, the empty input) in %.1f s, no crash\n",
              runs, files.size(), mutants, secs);
  return 0;
}
