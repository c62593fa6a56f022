// Portable kernels: the same integer algorithm as the SIMD kernels (weights decoded to
// small integers, dotted with the 8-bit activations, scaled per block), in plain C++.
// Used on CPUs without AVX2 and as the "scalar" ISA in tests.
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/quants_internal.h"

namespace ragd::kernels::detail {
namespace {

// Decoders: a 32-element block as integers q[j] with value = d * q[j] + m.
struct DecQ4_0 {
  using Block = BlockQ4_0;
  static void decode(const Block& b, int8_t* q, float* d, float* m) {
    for (size_t j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
      q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
    }
    *d = h2f(b.d);
    *m = 0;
  }
};
struct DecQ4_1 {
  using Block = BlockQ4_1;
  static void decode(const Block& b, int8_t* q, float* d, float* m) {
    for (size_t j = 0; j < 16; ++j) {
      q[j] = static_cast<int8_t>(b.qs[j] & 0xF);
      q[j + 16] = static_cast<int8_t>(b.qs[j] >> 4);
    }
    *d = h2f(b.d);
    *m = h2f(b.m);
  }
};
template <typename B, int Offset>
void decode_q5(const B& b, int8_t* q) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (size_t j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - Offset);
    q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - Offset);
  }
}
struct DecQ5_0 {
  using Block = BlockQ5_0;
  static void decode(const Block& b, int8_t* q, float* d, float* m) {
    decode_q5<Block, 16>(b, q);
    *d = h2f(b.d);
    *m = 0;
  }
};
struct DecQ5_1 {
  using Block = BlockQ5_1;
  static void decode(const Block& b, int8_t* q, float* d, float* m) {
    decode_q5<Block, 0>(b, q);
    *d = h2f(b.d);
    *m = h2f(b.m);
  }
};
struct DecQ8_0 {
  using Block = BlockQ8_0;
  static void decode(const Block& b, int8_t* q, float* d, float* m) {
    std::memcpy(q, b.qs, 32);
    *d = h2f(b.d);
    *m = 0;
  }
};

template <typename Dec>
void gemm_q8x32(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  const size_t nb = g.cols / 32;
  for (size_t i = i0; i < i1; ++i) {
    const uint8_t* arow = g.a + i * g.a_stride;
    const int8_t* aq = q8x32_qs(arow);
    const float* adl = q8x32_dl(arow, g.cols);
    for (size_t r = r0; r < r1; ++r) {
      const auto* wb = reinterpret_cast<const typename Dec::Block*>(g.w + r * g.w_stride);
      float acc = 0;
      for (size_t b = 0; b < nb; ++b) {
        int8_t q[32];
        float d, m;
        Dec::decode(wb[b], q, &d, &m);
        int32_t dot = 0, asum = 0;
        for (size_t j = 0; j < 32; ++j) {
          dot += q[j] * aq[32 * b + j];
          asum += aq[32 * b + j];
        }
        const float da = adl[8 * b];
        acc += d * da * static_cast<float>(dot) + m * da * static_cast<float>(asum);
      }
      g.y[i * g.ldy + r] = acc;
    }
  }
}

// K-quant decoders: a 256-element super-block as integers q[256] plus integer sub-block
// scales; value = d * sc[j] * q - dmin * mn[j] (sub-blocks of `sub` elements).
struct DecQ4_K {
  using Block = BlockQ4_K;
  static constexpr size_t sub = 32;
  static void decode(const Block& b, int8_t* q, int* sc, int* mn, float* d, float* dmin) {
    for (size_t j = 0; j < 8; ++j) {
      uint8_t s, m;
      unpack_scale_min_k4(j, b.scales, &s, &m);
      sc[j] = s;
      mn[j] = m;
    }
    for (size_t c = 0; c < 4; ++c) {
      for (size_t l = 0; l < 32; ++l) {
        q[64 * c + l] = static_cast<int8_t>(b.qs[32 * c + l] & 0xF);
        q[64 * c + 32 + l] = static_cast<int8_t>(b.qs[32 * c + l] >> 4);
      }
    }
    *d = h2f(b.d);
    *dmin = h2f(b.dmin);
  }
};
struct DecQ5_K {
  using Block = BlockQ5_K;
  static constexpr size_t sub = 32;
  static void decode(const Block& b, int8_t* q, int* sc, int* mn, float* d, float* dmin) {
    for (size_t j = 0; j < 8; ++j) {
      uint8_t s, m;
      unpack_scale_min_k4(j, b.scales, &s, &m);
      sc[j] = s;
      mn[j] = m;
    }
    for (size_t c = 0; c < 4; ++c) {
      for (size_t l = 0; l < 32; ++l) {
        const int h0 = (b.qh[l] >> (2 * c)) & 1, h1 = (b.qh[l] >> (2 * c + 1)) & 1;
        q[64 * c + l] = static_cast<int8_t>((b.qs[32 * c + l] & 0xF) | (h0 << 4));
        q[64 * c + 32 + l] = static_cast<int8_t>((b.qs[32 * c + l] >> 4) | (h1 << 4));
      }
    }
    *d = h2f(b.d);
    *dmin = h2f(b.dmin);
  }
};
struct DecQ6_K {
  using Block = BlockQ6_K;
  static constexpr size_t sub = 16;
  static void decode(const Block& b, int8_t* q, int* sc, int* mn, float* d, float* dmin) {
    for (size_t j = 0; j < 16; ++j) {
      sc[j] = b.scales[j];
      mn[j] = 0;
    }
    for (size_t h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      int8_t* qq = q + 128 * h;
      for (size_t l = 0; l < 32; ++l) {
        qq[l] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
        qq[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        qq[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        qq[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    *d = h2f(b.d);
    *dmin = 0;
  }
};

template <typename Dec>
void gemm_q8k(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  const size_t nb = g.cols / QK_K;
  constexpr size_t nsub = QK_K / Dec::sub;
  for (size_t i = i0; i < i1; ++i) {
    const auto* ab = reinterpret_cast<const BlockQ8_K*>(g.a + i * g.a_stride);
    for (size_t r = r0; r < r1; ++r) {
      const auto* wb = reinterpret_cast<const typename Dec::Block*>(g.w + r * g.w_stride);
      float acc = 0;
      for (size_t b = 0; b < nb; ++b) {
        int8_t q[QK_K];
        int sc[nsub], mn[nsub];
        float d, dmin;
        Dec::decode(wb[b], q, sc, mn, &d, &dmin);
        int32_t sumi = 0, summ = 0;
        for (size_t j = 0; j < nsub; ++j) {
          int32_t dot = 0;
          for (size_t l = 0; l < Dec::sub; ++l) dot += q[Dec::sub * j + l] * ab[b].qs[Dec::sub * j + l];
          sumi += sc[j] * dot;
          int32_t asum = 0;
          for (size_t k = 0; k < Dec::sub / 16; ++k) asum += ab[b].bsums[Dec::sub / 16 * j + k];
          summ += mn[j] * asum;
        }
        acc += ab[b].d * (d * static_cast<float>(sumi) - dmin * static_cast<float>(summ));
      }
      g.y[i * g.ldy + r] = acc;
    }
  }
}

template <typename T, float (*Conv)(T)>
void gemm_float(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t i = i0; i < i1; ++i) {
    const auto* x = reinterpret_cast<const float*>(g.a + i * g.a_stride);
    for (size_t r = r0; r < r1; ++r) {
      const auto* w = reinterpret_cast<const T*>(g.w + r * g.w_stride);
      float acc = 0;
      for (size_t k = 0; k < g.cols; ++k) acc += Conv(w[k]) * x[k];
      g.y[i * g.ldy + r] = acc;
    }
  }
}

float f32_id(float v) { return v; }

}  // namespace

GemmKernel scalar_kernel(TensorType type) {
  switch (type) {
    case TensorType::F32: return {gemm_float<float, f32_id>, ActFormat::F32, AuxKind::None};
    case TensorType::F16: return {gemm_float<fp16_t, fp16_to_fp32>, ActFormat::F32, AuxKind::None};
    case TensorType::BF16: return {gemm_float<bf16_t, bf16_to_fp32>, ActFormat::F32, AuxKind::None};
    case TensorType::Q4_0: return {gemm_q8x32<DecQ4_0>, ActFormat::Q8x32, AuxKind::None};
    case TensorType::Q4_1: return {gemm_q8x32<DecQ4_1>, ActFormat::Q8x32, AuxKind::None};
    case TensorType::Q5_0: return {gemm_q8x32<DecQ5_0>, ActFormat::Q8x32, AuxKind::None};
    case TensorType::Q5_1: return {gemm_q8x32<DecQ5_1>, ActFormat::Q8x32, AuxKind::None};
    case TensorType::Q8_0: return {gemm_q8x32<DecQ8_0>, ActFormat::Q8x32, AuxKind::None};
    case TensorType::Q4_K: return {gemm_q8k<DecQ4_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q5_K: return {gemm_q8k<DecQ5_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q6_K: return {gemm_q8k<DecQ6_K>, ActFormat::Q8K, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
