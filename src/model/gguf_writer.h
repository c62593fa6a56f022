// GgufWriter: builds a GGUF v3 file (metadata + tensor table + tensor data) and writes it.
//
// Invariants:
//  - metadata keys are unique; setting an existing key replaces its value in place, so the
//    order of first insertion is kept (copy_metadata then set_* keeps the source order);
//  - every added tensor has a unique name shorter than 64 bytes (GGML's limit), 1..4 dims,
//    all dims > 0, and a row length (dims[0]) that is a multiple of its type's block size;
//  - tensor data are written in insertion order, each at an offset aligned to the file's
//    alignment (general.alignment when set, else 32), and padded with zeros to the next
//    alignment boundary (also after the last tensor, as GGML does);
//  - write() streams: tensor bytes come from the caller's span or producer callback and are
//    never held in memory as a whole. It writes PATH.part, fsyncs and renames it to PATH,
//    so a crash or error never leaves a partial file under the real name.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kernels/tensor_type.h"
#include "model/gguf.h"

namespace ragd::model {

// An array value being built; arrays may nest (arrays of arrays).
class GgufArrayValue {
 public:
  // T is one of uint8_t int8_t uint16_t int16_t uint32_t int32_t uint64_t int64_t float
  // double.
  template <typename T>
  static GgufArrayValue numbers(std::span<const T> values);
  static GgufArrayValue bools(const std::vector<bool>& values);
  static GgufArrayValue strings(std::span<const std::string> values);
  static GgufArrayValue strings(std::span<const std::string_view> values);
  static GgufArrayValue arrays(std::span<const GgufArrayValue> values);
  // A copy of an array read from a file.
  static GgufArrayValue copy_of(const GgufArray& array);

  GgufType elem_type() const { return elem_type_; }
  uint64_t count() const { return count_; }
  // Encoded elements (without the element-type/count header).
  const std::vector<uint8_t>& body() const { return body_; }

 private:
  GgufType elem_type_ = GgufType::U8;
  uint64_t count_ = 0;
  std::vector<uint8_t> body_;
};

class GgufWriter {
 public:
  // Receives consecutive pieces of one tensor's data.
  using ChunkWriter = std::function<void(const void* data, size_t n)>;
  // Produces one tensor's data by calling `write` any number of times; the pieces must
  // add up to exactly the tensor's byte size (checked). May throw ragd::Error.
  using Producer = std::function<void(const ChunkWriter& write)>;

  GgufWriter() = default;

  void set_u8(std::string key, uint8_t v);
  void set_i8(std::string key, int8_t v);
  void set_u16(std::string key, uint16_t v);
  void set_i16(std::string key, int16_t v);
  void set_u32(std::string key, uint32_t v);
  void set_i32(std::string key, int32_t v);
  void set_u64(std::string key, uint64_t v);
  void set_i64(std::string key, int64_t v);
  void set_f32(std::string key, float v);
  void set_f64(std::string key, double v);
  void set_bool(std::string key, bool v);
  void set_string(std::string key, std::string_view v);
  void set_array(std::string key, const GgufArrayValue& v);
  template <typename T>
  void set_array(std::string key, std::span<const T> values) {
    set_array(std::move(key), GgufArrayValue::numbers<T>(values));
  }
  void set_string_array(std::string key, std::span<const std::string> values) {
    set_array(std::move(key), GgufArrayValue::strings(values));
  }
  // Any value read from a GGUF file (scalars, strings, arrays at any depth).
  void set_value(std::string key, const GgufValue& v);
  // Copies every metadata entry of `src`, in its order, for which `keep(key)` is true
  // (all when `keep` is empty).
  void copy_metadata(const GgufFile& src,
                     const std::function<bool(std::string_view key)>& keep = {});
  bool has(std::string_view key) const;
  bool remove(std::string_view key);
  size_t metadata_count() const { return kv_.size(); }

  // Sets general.alignment (u32). Must be a power of two.
  void set_alignment(uint64_t alignment);
  // general.alignment when set, else 32. Throws ragd::Error if the key is malformed.
  uint64_t alignment() const;

  // `data` must stay valid until write() returns; its size must be the tensor's byte size.
  void add_tensor(std::string name, kernels::TensorType type, std::vector<uint64_t> dims,
                  std::span<const uint8_t> data);
  void add_tensor(std::string name, kernels::TensorType type, std::vector<uint64_t> dims,
                  Producer produce);
  size_t tensor_count() const { return tensors_.size(); }
  // Byte size of the tensor data section including padding.
  uint64_t data_size() const;

  // Streams the file to `path` atomically (see the invariants above). `after_tensor(i)`
  // is called after the i-th tensor's data is written. Throws ragd::Error on any failure,
  // leaving no file at `path` (an existing file there is only replaced on success).
  void write(const std::string& path,
             const std::function<void(size_t index)>& after_tensor = {}) const;
  // The whole file in memory (tests, small files).
  std::vector<uint8_t> to_bytes() const;

 private:
  struct Kv {
    std::string key;
    std::vector<uint8_t> encoded;  // value type (u32) followed by the value
  };
  struct Tensor {
    std::string name;
    kernels::TensorType type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes = 0;
    Producer produce;
  };
  void set_encoded(std::string key, std::vector<uint8_t> encoded);
  void add_tensor_impl(Tensor t);
  // Emits the whole file, in order, through `out`.
  void write_to(const ChunkWriter& out, const std::function<void(size_t)>& after_tensor) const;

  std::vector<Kv> kv_;
  std::vector<Tensor> tensors_;
};

// The GGUF value type of a C++ numeric element type (see GgufArrayValue::numbers).
template <typename T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::U8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufType::I8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufType::U16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufType::I16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufType::U32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufType::I32;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufType::U64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufType::I64;
  else if constexpr (std::is_same_v<T, float>) return GgufType::F32;
  else if constexpr (std::is_same_v<T, double>) return GgufType::F64;
  else static_assert(sizeof(T) == 0, "not a GGUF numeric type");
}

}  // namespace ragd::model
