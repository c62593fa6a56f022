// MemoryBudget: how much memory the user lets ragd's models take (`--max-memory`).
//
// A budget is written as a byte size ("800M", "2GiB", "1.5G"; units as Config::get_size)
// or as a share of the machine's memory ("40%"). The environment variable
// MAX_MEMORY_PERCENT (a percentage, with or without '%') is the default when no flag or
// config key gives one; "none" given explicitly means no budget, also over that variable.
//
// "The machine's memory" is the smaller of MemTotal (/proc/meminfo) and the cgroup v2 limit
// of this process (memory.max), so a percentage inside a container means a share of what
// the container may use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ragd {

struct MemoryBudget {
  uint64_t bytes = 0;
  std::string text;    // as given: "800M", "40%"
  std::string origin;  // where it was given: "--max-memory", "MAX_MEMORY_PERCENT", ...

  // "800.0 MiB (--max-memory 800M)", "3.12 GiB (MAX_MEMORY_PERCENT=40)".
  std::string describe() const;
};

// Parses `text` given at `origin`. `machine_bytes` is the memory a percentage is taken of.
// Returns nullopt for "none". Throws ragd::Error naming origin and text for anything else
// that is not a positive size or a percentage in (0, 100].
std::optional<MemoryBudget> parse_memory_budget(std::string_view text, std::string_view origin,
                                                uint64_t machine_bytes);

// The budget from a flag or config value when `value` is set, else from the environment
// variable MAX_MEMORY_PERCENT when set, else nullopt (no budget).
std::optional<MemoryBudget> memory_budget_from(const std::optional<std::string>& value,
                                               std::string_view origin, uint64_t machine_bytes);

// MemTotal, lowered to the cgroup v2 memory.max of this process when that is a number;
// 0 when neither can be read.
uint64_t machine_memory_bytes();

// MemTotal in bytes from /proc/meminfo's text; 0 when absent. Exposed for tests.
uint64_t meminfo_total_bytes(std::string_view meminfo);

// "1.50 GiB", "800.0 MiB", "512 B".
std::string human_bytes(uint64_t n);

}  // namespace ragd
