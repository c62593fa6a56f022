#include "kernels/tensor_type.h"

#include <array>
#include <cctype>
#include <string>

#include "util/error.h"

namespace ragd::kernels {
namespace {

constexpr std::array kTraits = {
    TypeTraits{TensorType::F32, "f32", 1, 4},
    TypeTraits{TensorType::F16, "f16", 1, 2},
    TypeTraits{TensorType::Q4_0, "q4_0", QK4_0, sizeof(BlockQ4_0)},
    TypeTraits{TensorType::Q4_1, "q4_1", QK4_1, sizeof(BlockQ4_1)},
    TypeTraits{TensorType::Q5_0, "q5_0", QK5_0, sizeof(BlockQ5_0)},
    TypeTraits{TensorType::Q5_1, "q5_1", QK5_1, sizeof(BlockQ5_1)},
    TypeTraits{TensorType::Q8_0, "q8_0", QK8_0, sizeof(BlockQ8_0)},
    TypeTraits{TensorType::Q8_1, "q8_1", QK8_1, sizeof(BlockQ8_1)},
    TypeTraits{TensorType::Q2_K, "q2_k", QK_K, sizeof(BlockQ2_K)},
    TypeTraits{TensorType::Q3_K, "q3_k", QK_K, sizeof(BlockQ3_K)},
    TypeTraits{TensorType::Q4_K, "q4_k", QK_K, sizeof(BlockQ4_K)},
    TypeTraits{TensorType::Q5_K, "q5_k", QK_K, sizeof(BlockQ5_K)},
    TypeTraits{TensorType::Q6_K, "q6_k", QK_K, sizeof(BlockQ6_K)},
    TypeTraits{TensorType::Q8_K, "q8_k", QK_K, sizeof(BlockQ8_K)},
    TypeTraits{TensorType::I8, "i8", 1, 1},
    TypeTraits{TensorType::I16, "i16", 1, 2},
    TypeTraits{TensorType::I32, "i32", 1, 4},
    TypeTraits{TensorType::I64, "i64", 1, 8},
    TypeTraits{TensorType::F64, "f64", 1, 8},
    TypeTraits{TensorType::BF16, "bf16", 1, 2},
};

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t raw_type) {
  for (const auto& t : kTraits) {
    if (static_cast<uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const TypeTraits& traits(TensorType type) {
  for (const auto& t : kTraits) {
    if (t.type == type) return t;
  }
  fail("unknown tensor type id {}", static_cast<uint32_t>(type));
}

std::string_view type_name(TensorType type) { return traits(type).name; }

std::optional<TensorType> parse_type(std::string_view name) {
  std::string lower(name);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& t : kTraits) {
    if (t.name == lower) return t.type;
  }
  return std::nullopt;
}

size_t row_bytes(TensorType type, size_t n) {
  const auto& t = traits(type);
  if (n % t.block_size != 0) {
    fail("{} elements is not a multiple of the {} block size {}", n, t.name, t.block_size);
  }
  return n / t.block_size * t.type_size;
}

}  // namespace ragd::kernels
