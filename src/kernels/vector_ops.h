// Small element-wise and reduction operations of the transformer forward pass (norms,
// activations, softmax, rotary embeddings). Written as plain loops the compiler
// vectorises; they are a few percent of inference time, the matmuls are the rest.
#pragma once

#include <cstddef>

namespace ragd::kernels {

// out = x / rms(x) * weight   (weight may be null: no scaling)
void rms_norm(const float* x, const float* weight, float* out, size_t n, float eps);
// out = (x - mean) / sqrt(var + eps) * weight + bias   (weight/bias may be null)
void layer_norm(const float* x, const float* weight, const float* bias, float* out, size_t n,
                float eps);
// In-place softmax over n values; returns nothing, normalises to sum 1.
void softmax(float* x, size_t n);
// gate[i] = silu(gate[i]) * up[i]; swiglu_reference is the scalar loop the SIMD version is
// tested against.
void swiglu(float* gate, const float* up, size_t n);
void swiglu_reference(float* gate, const float* up, size_t n);
// In-place GELU (tanh approximation is what BERT checkpoints in GGUF expect: erf form).
void gelu(float* x, size_t n);
void add(float* dst, const float* src, size_t n);  // dst += src
float dot_f32(const float* a, const float* b, size_t n);
void axpy(float* y, float a, const float* x, size_t n);  // y += a * x
void scale(float* x, float a, size_t n);

// Rotary position embedding. rope_angles fills cos/sin (rope_dim/2 each) for position
// `pos`; rope_apply rotates the first rope_dim dims of one head vector with them:
// interleaved pairs (2i, 2i+1) as llama.cpp's "norm" mode, otherwise NeoX pairs
// (i, i + rope_dim/2). Angles are computed once per token and reused by every head/layer.
void rope_angles(size_t pos, size_t rope_dim, float base, float* cos_out, float* sin_out);
void rope_apply(float* head, size_t rope_dim, const float* cos, const float* sin,
                bool interleaved);

}  // namespace ragd::kernels
