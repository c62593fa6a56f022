// ProcessStats: what the Prometheus client libraries export as process_* (resident memory,
// CPU time, open file descriptors, start time) plus the machine's memory, read from /proc
// at scrape time. Linux only; a field that cannot be read is 0 (and `ok` false), never an
// error: a scrape must not fail because /proc is restricted.
#pragma once

#include <cstdint>
#include <string>

namespace ragd::server {

struct ProcessStats {
  bool ok = false;                   // /proc/self/stat was read
  uint64_t resident_bytes = 0;       // RSS
  uint64_t virtual_bytes = 0;        // address space size
  double cpu_seconds = 0;            // user + system CPU time
  uint64_t open_fds = 0;             // entries of /proc/self/fd
  uint64_t max_fds = 0;              // RLIMIT_NOFILE soft limit
  double start_time_seconds = 0;     // Unix time the process started
  uint64_t machine_memory_bytes = 0; // MemTotal of /proc/meminfo
};

ProcessStats read_process_stats();

// The fields of a /proc/PID/stat line after the command (which may hold spaces and ')'),
// starting with field 3 (state); empty if the line is malformed. Exposed for tests.
std::string stat_fields_after_command(const std::string& stat_line);

}  // namespace ragd::server
