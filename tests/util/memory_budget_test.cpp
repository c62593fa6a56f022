// MemoryBudget: `--max-memory` sizes and percentages, MAX_MEMORY_PERCENT as the default, and
// clear errors for values that are not a budget.
#include "util/memory_budget.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "util/error.h"

namespace ragd {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMachine = 8 * kGiB;

uint64_t bytes_of(const char* text) {
  auto b = parse_memory_budget(text, "--max-memory", kMachine);
  EXPECT_TRUE(b.has_value()) << text;
  return b ? b->bytes : 0;
}

std::string error_of(const char* text, uint64_t machine = kMachine) {
  try {
    parse_memory_budget(text, "--max-memory", machine);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "'" << text << "' was accepted";
  return "";
}

// Sets or clears MAX_MEMORY_PERCENT for one test and restores it afterwards.
struct EnvPercent {
  std::string saved;
  bool had = false;
  explicit EnvPercent(const char* value) {
    if (const char* v = std::getenv("MAX_MEMORY_PERCENT")) had = true, saved = v;
    if (value) setenv("MAX_MEMORY_PERCENT", value, 1);
    else unsetenv("MAX_MEMORY_PERCENT");
  }
  ~EnvPercent() {
    if (had) setenv("MAX_MEMORY_PERCENT", saved.c_str(), 1);
    else unsetenv("MAX_MEMORY_PERCENT");
  }
};

TEST(MemoryBudget, SizesUseConfigUnits) {
  EXPECT_EQ(bytes_of("800M"), 800u << 20);
  EXPECT_EQ(bytes_of("2G"), 2 * kGiB);
  EXPECT_EQ(bytes_of("1.5GiB"), 3 * kGiB / 2);
  EXPECT_EQ(bytes_of("2GB"), 2000000000u);
  EXPECT_EQ(bytes_of("123456"), 123456u);
  EXPECT_EQ(bytes_of(" 64mib "), 64u << 20);
}

TEST(MemoryBudget, PercentagesAreAShareOfTheMachine) {
  EXPECT_EQ(bytes_of("50%"), 4 * kGiB);
  EXPECT_EQ(bytes_of("100%"), kMachine);
  EXPECT_EQ(bytes_of("12.5%"), kGiB);
  auto b = parse_memory_budget("40%", "--max-memory", kMachine);
  EXPECT_EQ(b->text, "40%");
  EXPECT_EQ(b->describe(), "3.20 GiB (--max-memory 40%)");
}

TEST(MemoryBudget, NoneMeansNoBudget) {
  EXPECT_FALSE(parse_memory_budget("none", "--max-memory", kMachine));
  EXPECT_FALSE(parse_memory_budget("NONE", "--max-memory", kMachine));
}

TEST(MemoryBudget, BadValuesAreRefusedByName) {
  EXPECT_NE(error_of("lots").find("'lots' is not a memory budget"), std::string::npos);
  EXPECT_NE(error_of("2 parsecs").find("--max-memory"), std::string::npos);
  EXPECT_NE(error_of("").find("not a memory budget"), std::string::npos);
  EXPECT_NE(error_of("-1G").find("not a memory budget"), std::string::npos);
  EXPECT_NE(error_of("0").find("0 bytes fits no model"), std::string::npos);
  EXPECT_NE(error_of("150%").find("not a percentage of memory in (0, 100]"), std::string::npos);
  EXPECT_NE(error_of("0%").find("not a percentage"), std::string::npos);
  EXPECT_NE(error_of("-5%").find("not a percentage"), std::string::npos);
  EXPECT_NE(error_of("%").find("not a percentage"), std::string::npos);
  EXPECT_NE(error_of("abc%").find("not a percentage"), std::string::npos);
  EXPECT_NE(error_of("40%", 0).find("cannot be read here"), std::string::npos);
}

TEST(MemoryBudget, EnvironmentPercentIsTheDefault) {
  {
    EnvPercent env("25");
    auto b = memory_budget_from(std::nullopt, "--max-memory", kMachine);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->bytes, 2 * kGiB);
    EXPECT_EQ(b->origin, "MAX_MEMORY_PERCENT");
    EXPECT_EQ(b->describe(), "2.00 GiB (MAX_MEMORY_PERCENT=25)");
    // A flag wins over the variable, and "none" switches the budget off.
    EXPECT_EQ(memory_budget_from(std::string("1G"), "--max-memory", kMachine)->bytes, kGiB);
    EXPECT_FALSE(memory_budget_from(std::string("none"), "--max-memory", kMachine));
  }
  {
    EnvPercent env("30%");
    EXPECT_EQ(memory_budget_from(std::nullopt, "--max-memory", 10 * kGiB)->bytes, 3 * kGiB);
  }
  {
    EnvPercent env("250");
    try {
      memory_budget_from(std::nullopt, "--max-memory", kMachine);
      ADD_FAILURE() << "250% accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("MAX_MEMORY_PERCENT"), std::string::npos) << e.what();
    }
  }
  {
    EnvPercent env(nullptr);
    EXPECT_FALSE(memory_budget_from(std::nullopt, "--max-memory", kMachine));
  }
}

TEST(MemoryBudget, MachineMemory) {
  EXPECT_EQ(meminfo_total_bytes("MemTotal:        8048576 kB\nMemFree:  1 kB\n"), uint64_t{8048576} * 1024);
  EXPECT_EQ(meminfo_total_bytes("MemFree:  1 kB\n"), 0u);
  EXPECT_EQ(meminfo_total_bytes("MemTotal: lots\n"), 0u);
  // This machine: Linux always has /proc/meminfo; a cgroup limit can only lower it.
  const uint64_t m = machine_memory_bytes();
  EXPECT_GT(m, 0u);
}

}  // namespace
}  // namespace ragd
