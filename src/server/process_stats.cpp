#include "server/process_stats.h"
#include "util/text.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace ragd::server {
namespace {

// The value of a "Name:   123 kB" line of /proc/meminfo, in bytes.
uint64_t meminfo_bytes(const std::string& meminfo, const std::string& name) {
  std::istringstream in(meminfo);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) != 0) continue;
    std::istringstream fields(line.substr(name.size() + 1));
    uint64_t kib = 0;
    fields >> kib;
    return kib * 1024;
  }
  return 0;
}

// Boot time (Unix seconds): the "btime" line of /proc/stat.
double boot_time() {
  std::istringstream in(read_text_file("/proc/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

std::string stat_fields_after_command(const std::string& stat_line) {
  // "PID (COMMAND) STATE ...": the command ends at the last ')'.
  size_t close = stat_line.rfind(')');
  if (close == std::string::npos || close + 2 > stat_line.size()) return "";
  return stat_line.substr(close + 2);
}

ProcessStats read_process_stats() {
  ProcessStats p;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::istringstream fields(stat_fields_after_command(read_text_file("/proc/self/stat")));
  std::vector<std::string> f;  // f[0] is field 3 (state) of proc(5)
  for (std::string w; fields >> w;) f.push_back(w);
  if (f.size() >= 22 && ticks > 0) {
    try {
      p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;  // utime, stime (fields 14, 15)
      p.start_time_seconds = boot_time() + std::stod(f[19]) / ticks;    // starttime (field 22)
      p.virtual_bytes = std::stoull(f[20]);                            // vsize (field 23)
      p.resident_bytes = std::stoull(f[21]) * page;                    // rss pages (field 24)
      p.ok = true;
    } catch (const std::exception&) {
      p = ProcessStats{};
    }
  }
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++p.open_fds;
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = static_cast<uint64_t>(limit.rlim_cur);
  p.machine_memory_bytes = meminfo_bytes(read_text_file("/proc/meminfo"), "MemTotal");
  return p;
}

}  // namespace ragd::server
