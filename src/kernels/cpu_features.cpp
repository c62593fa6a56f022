#include "kernels/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ragd::kernels {

#if defined(__x86_64__) || defined(__i386__)
// clang before 18 rejects "f16c" in __builtin_cpu_supports (the fuzz build uses clang 16);
// CPUID leaf 1, ECX bit 29 is the same flag.
static bool cpu_has_f16c() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
}
#endif

#if defined(__x86_64__) && defined(__linux__)
// AMX needs the CPU (CPUID leaf 7: EDX bit 24 AMX-TILE, bit 22 AMX-BF16), the kernel's
// XSAVE support for tile state (XCR0 bits 17-18), and, since Linux 5.16, a per-process
// request for the 8 KB tile data area (arch_prctl ARCH_REQ_XCOMP_PERM): without the
// permission the first tile instruction faults. The request is granted for the whole
// process, so every pool thread may use tiles after it.
static bool amx_usable() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  if (!(d & (1u << 24)) || !(d & (1u << 22))) return false;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & (3u << 17)) != (3u << 17)) return false;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#else
static bool amx_usable() { return false; }
#endif

Isa detect_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    cpu_has_f16c();
  if (!avx2) return Isa::Scalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vnni");
  if (!avx512) return Isa::Avx2;
  return has_avx512_bf16() && amx_usable() ? Isa::Amx : Isa::Avx512;
#else
  return Isa::Scalar;
#endif
}

bool has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}

}  // namespace ragd::kernels
