// vpdpbusd with its signed operand broadcast from memory, for the batched kernels that
// keep one operand in registers and stream 4 bytes of the other per instruction
// (include only from *_avx512.cpp files).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {

// acc += dot4(u (unsigned bytes), {4 signed bytes at p} broadcast to all 16 lanes).
// GCC does not fold _mm512_set1_epi32(load) into vpdpbusd's embedded-broadcast operand,
// and a separate vpbroadcastd per vpdpbusd costs ~25% in these kernels, so the
// instruction is spelled out.
inline __m512i dpbusd_bcast(__m512i acc, __m512i u, const void* p) {
#if defined(__GNUC__)
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(u), "m"(*static_cast<const uint32_t*>(p)));
  return acc;
#else
  uint32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_dpbusd_epi32(acc, u, _mm512_set1_epi32(static_cast<int>(v)));
#endif
}

}  // namespace ragd::kernels::detail
