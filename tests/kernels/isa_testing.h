// Running a kernel test once per instruction set: the ISA paths this CPU has, and a guard
// that puts back the process-wide ISA after a test forced another.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "kernels/matmul.h"

namespace ragd::kernels::isa_testing {

// Scalar first, then every SIMD level up to best_isa(): a test that loops over these
// compares each path with the same reference, and skips nothing silently on this CPU.
inline std::vector<Isa> isas_of_this_cpu() {
  std::vector<Isa> isas{Isa::Scalar};
  if (best_isa() >= Isa::Avx2) isas.push_back(Isa::Avx2);
  if (best_isa() >= Isa::Avx512) isas.push_back(Isa::Avx512);
  if (best_isa() >= Isa::AmxInt8) isas.push_back(Isa::AmxInt8);
  if (best_isa() >= Isa::Amx) isas.push_back(Isa::Amx);
  return isas;
}

// isa_name() as a GoogleTest parameter name (letters, digits and '_' only).
inline std::string isa_test_name(Isa isa) {
  std::string name(isa_name(isa));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Restores the process-wide ISA when a test forced another.
struct IsaGuard {
  Isa saved = active_isa();
  ~IsaGuard() { force_isa(saved); }
};

}  // namespace ragd::kernels::isa_testing
