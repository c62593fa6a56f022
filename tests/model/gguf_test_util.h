// Helpers shared by the GGUF reader/writer tests: a little-endian byte builder for
// hand-made (often deliberately broken) files, and a checker that touches every value and
// tensor byte of a parsed file so AddressSanitizer sees any out-of-bounds view.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include "model/gguf.h"

namespace ragd::model::testing {

// A fresh directory per test (named after the test and the process), removed afterwards.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct Bytes {
  std::vector<uint8_t> b;

  template <typename T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof v);
    b.insert(b.end(), tmp, tmp + sizeof v);
    return *this;
  }
  Bytes& u8(uint8_t v) { return put(v); }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& type(GgufType t) { return u32(static_cast<uint32_t>(t)); }
  // "GGUF", version, tensor count, metadata count.
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(0x46554747).u32(version).u64(n_tensors).u64(n_kv);
  }
  // A one-dimensional F32 tensor-info entry.
  Bytes& tensor_info(std::string_view name, uint64_t dim0, uint64_t offset, uint32_t type = 0) {
    return str(name).u32(1).u64(dim0).u32(type).u64(offset);
  }
  Bytes& pad(size_t align) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

inline std::unique_ptr<GgufFile> parse_bytes(const std::vector<uint8_t>& bytes) {
  return GgufFile::parse(bytes, "test.gguf");
}

// Reads every metadata value (rendering arrays in full, converting numeric arrays) and the
// first and last byte of every tensor, checking the views lie inside `bytes`.
inline void touch_everything(const GgufFile& f, const std::vector<uint8_t>& bytes) {
  size_t sink = 0;
  for (const auto& [key, value] : f.metadata()) {
    sink += gguf_value_to_string(value, 1 << 20).size();
    if (auto* a = std::get_if<std::shared_ptr<const GgufArray>>(&value)) {
      if ((*a)->elem_type != GgufType::STRING && (*a)->elem_type != GgufType::ARRAY) {
        sink += (*a)->as<double>().size();
      }
    }
  }
  const uint8_t* begin = bytes.data();
  const uint8_t* end = bytes.data() + bytes.size();
  for (const auto& t : f.tensors()) {
    ASSERT_GE(t.data, begin);
    ASSERT_LE(t.data + t.n_bytes, end);
    if (t.n_bytes) sink += t.data[0] + t.data[t.n_bytes - 1];
  }
  (void)sink;
}

}  // namespace ragd::model::testing
