// SafetensorsFile: a read-only, memory-mapped .safetensors file (Hugging Face's format for
// checkpoints: what embedding packages ship before conversion to GGUF).
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON, then the data
// buffer. The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the buffer) plus an optional "__metadata__" string map.
//
// Invariants once open()/parse() returns:
//  - the header is valid JSON no larger than 100 MiB and lies inside the file;
//  - every tensor has a known dtype, a shape whose element count times the dtype size equals
//    end - begin (checked without overflow), and [begin, end) lies inside the buffer;
//  - no two tensors' byte ranges overlap;
//  - tensors() is sorted by name (the JSON object order is not meaningful), so iterating it is
//    deterministic; `data` views the mapping (zero copy, possibly unaligned).
// A truncated or hostile file raises ragd::Error naming the file and the problem.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "util/mapped_file.h"

namespace ragd::model {

enum class StDtype { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };
std::string_view st_dtype_name(StDtype dtype);
size_t st_dtype_size(StDtype dtype);

struct SafetensorsTensor {
  std::string name;
  StDtype dtype;
  std::vector<uint64_t> shape;  // outermost first (row-major, PyTorch order)
  uint64_t n_elements = 0;
  std::span<const uint8_t> data;  // n_elements * st_dtype_size(dtype) bytes, unaligned

  // Converts every element to float. Only F32, F16 and BF16 are accepted (the float types
  // checkpoints store weights in); anything else throws ragd::Error.
  void to_f32(float* out) const;
  // Elements [first, first + n) converted as to_f32 does.
  void to_f32(uint64_t first, uint64_t n, float* out) const;
  bool is_float() const;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. Throws ragd::Error naming the file and the problem.
  static std::unique_ptr<SafetensorsFile> open(const std::string& path);
  // Parses an in-memory image (tests). `bytes` must outlive the object.
  static std::unique_ptr<SafetensorsFile> parse(std::span<const uint8_t> bytes, std::string label);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  const SafetensorsTensor& tensor(std::string_view name) const;  // throws when missing
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse_all();

  std::string path_;
  std::span<const uint8_t> bytes_;
  std::unique_ptr<MappedFile> mapping_;  // null for parse()d in-memory images
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace ragd::model
