// Tensor element types and their on-disk block layouts.
//
// The numeric ids and the block structs are exactly GGML's, because GGUF files store
// them verbatim: a tensor of a quantized type is a packed array of blocks, each holding
// `block_size` elements in `type_size` bytes. Every struct below is static_assert-ed to
// its GGML size, so a file mapped from disk can be read in place (zero copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ragd::kernels {

enum class TensorType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

struct TypeTraits {
  TensorType type;
  std::string_view name;  // GGML's lower-case name, e.g. "q4_k"
  size_t block_size;      // elements per block (1 for plain types)
  size_t type_size;       // bytes per block
};

// Traits of a known type; std::nullopt for ids this build does not know.
std::optional<TypeTraits> type_traits(uint32_t raw_type);
const TypeTraits& traits(TensorType type);  // type must be known
std::string_view type_name(TensorType type);
// Parses "q4_0", "Q4_K", "f16", ... (case-insensitive); std::nullopt if unknown.
std::optional<TensorType> parse_type(std::string_view name);

// Bytes needed for `n` elements of `type`; n must be a multiple of the block size.
size_t row_bytes(TensorType type, size_t n);

using fp16_t = uint16_t;  // IEEE half, stored as raw bits
using bf16_t = uint16_t;  // bfloat16, stored as raw bits

constexpr size_t QK4_0 = 32;
constexpr size_t QK4_1 = 32;
constexpr size_t QK5_0 = 32;
constexpr size_t QK5_1 = 32;
constexpr size_t QK8_0 = 32;
constexpr size_t QK8_1 = 32;
constexpr size_t QK_K = 256;
constexpr size_t K_SCALE_SIZE = 12;

#pragma pack(push, 1)
struct BlockQ4_0 {
  fp16_t d;             // scale
  uint8_t qs[QK4_0 / 2];  // nibbles: element j in low nibble of qs[j], j+16 in high
};
struct BlockQ4_1 {
  fp16_t d;  // scale
  fp16_t m;  // min
  uint8_t qs[QK4_1 / 2];
};
struct BlockQ5_0 {
  fp16_t d;
  uint8_t qh[4];  // 5th bits
  uint8_t qs[QK5_0 / 2];
};
struct BlockQ5_1 {
  fp16_t d;
  fp16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};
struct BlockQ8_0 {
  fp16_t d;
  int8_t qs[QK8_0];
};
struct BlockQ8_1 {
  fp16_t d;
  fp16_t s;  // d * sum(qs)
  int8_t qs[QK8_1];
};
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];
  uint8_t qs[QK_K / 4];
  fp16_t d;
  fp16_t dmin;
};
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];
  uint8_t qs[QK_K / 4];
  uint8_t scales[12];
  fp16_t d;
};
struct BlockQ4_K {
  fp16_t d;     // super-block scale for the 6-bit sub-block scales
  fp16_t dmin;  // super-block scale for the 6-bit sub-block mins
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};
struct BlockQ5_K {
  fp16_t d;
  fp16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];      // low 4 bits
  uint8_t qh[QK_K / 4];      // high 2 bits
  int8_t scales[QK_K / 16];  // 8-bit sub-block scales
  fp16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];  // sums of groups of 16
};
#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace ragd::kernels
