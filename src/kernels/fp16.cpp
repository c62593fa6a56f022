// IEEE half and bfloat16 <-> float conversions (scalar, bit-exact, round to nearest even).
//
// These are portable integer implementations; the SIMD kernels use F16C / shifts instead,
// which give identical results for every finite input (tested in tests/kernels).
#include <cstdint>
#include <cstring>

#include "kernels/quants.h"

namespace ragd::kernels {
namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Shifts `mant` right by `shift` (1..31) rounding to nearest, ties to even.
uint32_t shift_round_even(uint32_t mant, uint32_t shift) {
  const uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1u);
  return (rem > half || (rem == half && (q & 1u))) ? q + 1u : q;
}

}  // namespace

float fp16_to_fp32(fp16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    // Zero or subnormal: value = mant * 2^-24, exactly representable as a float.
    const float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -v : v;
  }
  if (exp == 31) return bits_float(sign | 0x7f800000u | (mant << 13));  // inf / nan
  return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

fp16_t fp32_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const uint32_t sign = (u >> 16) & 0x8000u;
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<fp16_t>(sign | 0x7e00u);  // quiet nan
  // 65520 = 0x477ff000 is the first value that rounds past the largest half (65504).
  if (a >= 0x477ff000u) return static_cast<fp16_t>(sign | 0x7c00u);
  if (a < 0x38800000u) {
    // Below 2^-14: the result is a half subnormal (or zero) in units of 2^-24.
    const uint32_t exp = a >> 23;
    if (exp < 102) return static_cast<fp16_t>(sign);  // < 2^-25: rounds to zero
    const uint32_t mant = (a & 0x7fffffu) | 0x800000u;
    // value = mant * 2^(exp-150); in 2^-24 units that is mant >> (126 - exp).
    return static_cast<fp16_t>(sign | shift_round_even(mant, 126u - exp));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits. A
  // carry out of the mantissa correctly bumps the exponent.
  const uint32_t h = shift_round_even(a - (112u << 23), 13);
  return static_cast<fp16_t>(sign | h);
}

float bf16_to_fp32(bf16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

bf16_t fp32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) {
    return static_cast<bf16_t>((u >> 16) | 0x40u);  // keep sign/payload, force quiet
  }
  // Round to nearest even on the 16 dropped bits; overflow rounds to inf as IEEE does.
  return static_cast<bf16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace ragd::kernels
