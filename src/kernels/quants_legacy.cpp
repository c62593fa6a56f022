// Reference quantization of GGML's 32-element block types (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
// Q8_1). Layouts and rounding follow ggml exactly, so files written here load in
// llama.cpp and files from llama.cpp dequantize to the same floats.
//
// Nibble order (Q4_x, Q5_x): element j of a block lives in the low nibble of qs[j] and
// element j+16 in the high nibble of qs[j]. Q5_x's fifth bits: bit j of the little-endian
// 32-bit qh is the fifth bit of element j.
#include <algorithm>
#include <cmath>

#include "kernels/quants_internal.h"

namespace ragd::kernels::detail {
namespace {

constexpr size_t QK = 32;

// The element of largest magnitude, with its sign (symmetric types scale by it so that
// it maps exactly onto the most negative level).
float signed_absmax(const float* x, size_t n, float* amax_out) {
  float amax = 0.0f, max = 0.0f;
  for (size_t j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  if (amax_out) *amax_out = amax;
  return max;
}

void min_max(const float* x, size_t n, float* mn, float* mx) {
  float lo = INFINITY, hi = -INFINITY;
  for (size_t j = 0; j < n; ++j) {
    lo = std::min(lo, x[j]);
    hi = std::max(hi, x[j]);
  }
  *mn = lo;
  *mx = hi;
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void store_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace

void quantize_q4_0(const float* x, BlockQ4_0* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    const float max = signed_absmax(x, QK, nullptr);
    const float d = max / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    for (size_t j = 0; j < QK / 2; ++j) {
      // Truncation after +8.5 rounds half up; values land in 0..16, clamp to 15.
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
      const int hi =
          std::min(15, static_cast<int>(static_cast<int8_t>(x[j + QK / 2] * id + 8.5f)));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q4_1(const float* x, BlockQ4_1* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    float mn, mx;
    min_max(x, QK, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    y[b].m = f2h(mn);
    for (size_t j = 0; j < QK / 2; ++j) {
      const int lo = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - mn) * id + 0.5f)));
      const int hi =
          std::min(15, static_cast<int>(static_cast<int8_t>((x[j + QK / 2] - mn) * id + 0.5f)));
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void quantize_q5_0(const float* x, BlockQ5_0* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    const float max = signed_absmax(x, QK, nullptr);
    const float d = max / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    uint32_t qh = 0;
    for (size_t j = 0; j < QK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>(static_cast<int8_t>(x[j] * id + 16.5f)));
      const int hi =
          std::min(31, static_cast<int>(static_cast<int8_t>(x[j + QK / 2] * id + 16.5f)));
      y[b].qs[j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + QK / 2);
    }
    store_u32(y[b].qh, qh);
  }
}

void quantize_q5_1(const float* x, BlockQ5_1* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    float mn, mx;
    min_max(x, QK, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    y[b].m = f2h(mn);
    uint32_t qh = 0;
    for (size_t j = 0; j < QK / 2; ++j) {
      const int lo = std::min(31, static_cast<int>(static_cast<int8_t>((x[j] - mn) * id + 0.5f)));
      const int hi =
          std::min(31, static_cast<int>(static_cast<int8_t>((x[j + QK / 2] - mn) * id + 0.5f)));
      y[b].qs[j] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1) << (j + QK / 2);
    }
    store_u32(y[b].qh, qh);
  }
}

void quantize_q8_0(const float* x, BlockQ8_0* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    float amax;
    signed_absmax(x, QK, &amax);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = f2h(d);
    for (size_t j = 0; j < QK; ++j) y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
  }
}

void quantize_q8_1(const float* x, BlockQ8_1* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, x += QK) {
    float amax;
    signed_absmax(x, QK, &amax);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (size_t j = 0; j < QK; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += y[b].qs[j];
    }
    y[b].d = f2h(d);
    y[b].s = f2h(static_cast<float>(sum) * d);
  }
}

void dequantize_q4_0(const BlockQ4_0* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d);
    for (size_t j = 0; j < QK / 2; ++j) {
      y[j] = static_cast<float>((x[b].qs[j] & 0xF) - 8) * d;
      y[j + QK / 2] = static_cast<float>((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const BlockQ4_1* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d), m = h2f(x[b].m);
    for (size_t j = 0; j < QK / 2; ++j) {
      y[j] = static_cast<float>(x[b].qs[j] & 0xF) * d + m;
      y[j + QK / 2] = static_cast<float>(x[b].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_q5_0(const BlockQ5_0* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d);
    const uint32_t qh = load_u32(x[b].qh);
    for (size_t j = 0; j < QK / 2; ++j) {
      const int lo = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo - 16) * d;
      y[j + QK / 2] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const BlockQ5_1* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d), m = h2f(x[b].m);
    const uint32_t qh = load_u32(x[b].qh);
    for (size_t j = 0; j < QK / 2; ++j) {
      const int lo = (x[b].qs[j] & 0xF) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      y[j] = static_cast<float>(lo) * d + m;
      y[j + QK / 2] = static_cast<float>(hi) * d + m;
    }
  }
}

void dequantize_q8_0(const BlockQ8_0* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d);
    for (size_t j = 0; j < QK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

void dequantize_q8_1(const BlockQ8_1* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK; ++b, y += QK) {
    const float d = h2f(x[b].d);
    for (size_t j = 0; j < QK; ++j) y[j] = static_cast<float>(x[b].qs[j]) * d;
  }
}

}  // namespace ragd::kernels::detail
