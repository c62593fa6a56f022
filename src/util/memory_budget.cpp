#include "util/memory_budget.h"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "util/config.h"
#include "util/error.h"
#include "util/text.h"

namespace ragd {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The cgroup v2 path of this process ("0::/user.slice/..."), or "" without cgroup v2.
std::string cgroup_path() {
  std::istringstream in(read_text_file("/proc/self/cgroup"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return "";
}

uint64_t cgroup_limit_bytes() {
  const std::string path = cgroup_path();
  if (path.empty()) return 0;
  const std::string text(trim(read_text_file(("/sys/fs/cgroup" + path + "/memory.max").c_str())));
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  // "max" (no limit) or an unreadable file leave MemTotal as the figure.
  return ec == std::errc() && end == text.data() + text.size() ? v : 0;
}

std::optional<MemoryBudget> parse_percent(std::string_view number, std::string_view text,
                                          std::string_view origin, uint64_t machine_bytes) {
  double percent = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), percent);
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
      !(percent > 0 && percent <= 100)) {
    fail("{}: '{}' is not a percentage of memory in (0, 100], like 40%", origin, text);
  }
  if (machine_bytes == 0) {
    fail("{}: '{}' is a share of the machine's memory, which cannot be read here "
         "(/proc/meminfo); give a size such as 2G instead",
         origin, text);
  }
  const auto bytes = static_cast<uint64_t>(static_cast<double>(machine_bytes) * percent / 100);
  if (bytes == 0) fail("{}: '{}' of {} bytes is no memory at all", origin, text, machine_bytes);
  return MemoryBudget{bytes, std::string(text), std::string(origin)};
}

}  // namespace

std::string human_bytes(uint64_t n) {
  if (n >= (uint64_t{1} << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(n) / (1 << 30));
  if (n >= (uint64_t{1} << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(n) / (1 << 20));
  if (n >= (uint64_t{1} << 10)) return fmt::format("{:.1f} KiB", static_cast<double>(n) / (1 << 10));
  return fmt::format("{} B", n);
}

std::string MemoryBudget::describe() const {
  const bool env = origin == "MAX_MEMORY_PERCENT";
  const std::string given = env ? fmt::format("{}={}", origin, text) : fmt::format("{} {}", origin, text);
  return fmt::format("{} ({})", human_bytes(bytes), given);
}

std::optional<MemoryBudget> parse_memory_budget(std::string_view text, std::string_view origin,
                                                uint64_t machine_bytes) {
  const std::string_view t = trim(text);
  std::string lower(t);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") return std::nullopt;
  if (!t.empty() && t.back() == '%') return parse_percent(trim(t.substr(0, t.size() - 1)), t, origin, machine_bytes);
  const auto bytes = parse_byte_size(t);
  if (!bytes) {
    fail("{}: '{}' is not a memory budget; give a size (800M, 2G, 1.5GiB), a share of memory "
         "(40%) or none",
         origin, text);
  }
  if (*bytes == 0) fail("{}: a budget of 0 bytes fits no model; give a size, a percentage, or none for no budget", origin);
  return MemoryBudget{*bytes, std::string(t), std::string(origin)};
}

std::optional<MemoryBudget> memory_budget_from(const std::optional<std::string>& value,
                                               std::string_view origin, uint64_t machine_bytes) {
  if (value) return parse_memory_budget(*value, origin, machine_bytes);
  const char* env = std::getenv("MAX_MEMORY_PERCENT");
  if (!env || !*env) return std::nullopt;
  std::string_view percent = trim(env);
  if (!percent.empty() && percent.back() == '%') percent.remove_suffix(1);
  if (percent == "none") return std::nullopt;
  auto budget = parse_percent(trim(percent), env, "MAX_MEMORY_PERCENT", machine_bytes);
  budget->text = std::string(trim(percent));
  return budget;
}

uint64_t meminfo_total_bytes(std::string_view meminfo) {
  std::istringstream in{std::string(meminfo)};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("MemTotal:", 0) != 0) continue;
    std::istringstream fields(line.substr(9));
    uint64_t kb = 0;
    std::string unit;
    if (fields >> kb >> unit && unit == "kB") return kb * 1024;
    return 0;
  }
  return 0;
}

uint64_t machine_memory_bytes() {
  uint64_t total = meminfo_total_bytes(read_text_file("/proc/meminfo"));
  const uint64_t limit = cgroup_limit_bytes();
  if (limit > 0 && (total == 0 || limit < total)) total = limit;
  return total;
}

}  // namespace ragd
