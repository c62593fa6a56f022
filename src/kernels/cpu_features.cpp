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
// AMX needs the CPU (CPUID leaf 7: EDX bit 24 AMX-TILE, bit 25 AMX-INT8, bit 22 AMX-BF16),
// the kernel's XSAVE support for tile state (XCR0 bits 17-18), and, since Linux 5.16, a
// per-process request for the 8 KB tile data area (arch_prctl ARCH_REQ_XCOMP_PERM):
// without the permission the first tile instruction faults. The request is granted for
// the whole process, so every pool thread may use tiles after it.
// Returns the highest AMX level usable: Amx (int8 and bf16 tiles), AmxInt8, or Avx512.
static Isa amx_level() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return Isa::Avx512;
  const bool tile = d & (1u << 24), int8 = d & (1u << 25), bf16 = d & (1u << 22);
  if (!tile || !int8) return Isa::Avx512;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return Isa::Avx512;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & (3u << 17)) != (3u << 17)) return Isa::Avx512;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return Isa::Avx512;
  return bf16 && has_avx512_bf16() ? Isa::Amx : Isa::AmxInt8;
}
#else
static Isa amx_level() { return Isa::Avx512; }
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
  return amx_level();
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
