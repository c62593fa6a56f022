// GgufFile: a read-only, memory-mapped GGUF (v2/v3) model file.
//
// Invariants once open() returns:
//  - every metadata key is unique and every value lies inside the file;
//  - every tensor has a known type, at most 4 dims, a size that fits in the file, a
//    data offset aligned to `alignment()`, and `data` points into the mapping (zero copy);
//  - all lengths and counts were checked against the bytes left before anything was
//    allocated, so a truncated or hostile file raises ragd::Error, never reads out of
//    bounds or allocates without bound.
// The mapping lives as long as the GgufFile; tensor data and string_views point into it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kernels/tensor_type.h"
#include "util/mapped_file.h"

namespace ragd::model {

enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
std::string_view gguf_type_name(GgufType type);

struct GgufArray;

// A scalar or array metadata value. Strings view the mapped file.
using GgufValue = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float,
                               bool, std::string_view, uint64_t, int64_t, double,
                               std::shared_ptr<const GgufArray>>;

struct GgufArray {
  GgufType elem_type;
  uint64_t count = 0;
  // Numeric/bool elements: `count` packed little-endian values in the mapping (unaligned).
  std::span<const uint8_t> raw;
  // STRING elements.
  std::vector<std::string_view> strings;
  // ARRAY elements (arrays of arrays).
  std::vector<std::shared_ptr<const GgufArray>> arrays;

  // Numeric elements converted to T (any numeric element type; bool → 0/1).
  template <typename T>
  std::vector<T> as() const;
};

struct GgufTensor {
  std::string name;
  kernels::TensorType type;
  std::vector<uint64_t> dims;  // dims[0] varies fastest (the row length)
  uint64_t offset = 0;         // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;

  uint64_t rows() const;  // product of dims[1..]
};

class GgufFile {
 public:
  // Maps and validates `path`. Throws ragd::Error naming the file and the problem.
  static std::unique_ptr<GgufFile> open(const std::string& path);
  // Parses an in-memory image (tests, fuzzing). `bytes` must outlive the GgufFile.
  static std::unique_ptr<GgufFile> parse(std::span<const uint8_t> bytes, std::string label);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  uint64_t data_offset() const { return data_offset_; }

  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed getters: throw ragd::Error when the key is missing or has another type.
  // Integer getters accept any integer type whose value fits.
  std::string_view get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const GgufArray& get_array(std::string_view key) const;
  // Same, with a default when the key is missing (a wrong type still throws).
  std::string_view get_string(std::string_view key, std::string_view fallback) const;
  uint64_t get_uint(std::string_view key, uint64_t fallback) const;
  double get_float(std::string_view key, double fallback) const;
  bool get_bool(std::string_view key, bool fallback) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  const GgufTensor& tensor(std::string_view name) const;  // throws when missing

  // Tensor data copied elsewhere (e.g. re-laid-out weights): drop its pages from resident
  // memory. A no-op for parse()d in-memory images.
  void release(const void* data, size_t bytes) const;

  // "general.architecture", e.g. "llama".
  std::string_view architecture() const { return get_string("general.architecture", ""); }

 private:
  GgufFile() = default;
  void parse_all();

  std::string path_;
  std::span<const uint8_t> bytes_;
  std::unique_ptr<MappedFile> mapping_;  // null for parse()d in-memory images
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Human-readable rendering of a value (arrays abbreviated after `max_items`).
std::string gguf_value_to_string(const GgufValue& value, size_t max_items = 8);

}  // namespace ragd::model
