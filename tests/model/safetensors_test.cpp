// SafetensorsFile: valid files read back exactly (F32/F16/BF16), and corrupt or hostile
// headers fail with ragd::Error instead of reading out of bounds.
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "tiny_bert.h"
#include "util/error.h"

namespace ragd::model {
namespace {

using ragd::testing::safetensors_bytes;
using ragd::testing::st_floats;
using ragd::testing::StEntry;

std::vector<uint8_t> sample() {
  return safetensors_bytes({st_floats("b.weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
                            st_floats("a.half", {4}, {0.5f, -1.0f, 2.0f, 65504.0f}, "F16"),
                            st_floats("c.bf", {2}, {1.5f, -3.0f}, "BF16"),
                            StEntry{"ids", "I64", {2}, std::vector<uint8_t>(16, 0)}});
}

std::unique_ptr<SafetensorsFile> parse(const std::vector<uint8_t>& b) {
  return SafetensorsFile::parse(b, "test.safetensors");
}

// Expects parse() to throw ragd::Error whose message contains `what`.
void expect_error(const std::vector<uint8_t>& b, const std::string& what) {
  try {
    parse(b);
    FAIL() << "no error; expected one mentioning '" << what << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

std::vector<uint8_t> with_header(const std::string& json, size_t data_bytes = 64) {
  auto b = safetensors_bytes({}, json);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(Safetensors, ReadsTensorsSortedWithValues) {
  const auto bytes = sample();
  auto f = parse(bytes);
  ASSERT_EQ(f->tensors().size(), 4u);
  EXPECT_EQ(f->tensors()[0].name, "a.half");  // sorted by name, not file order
  EXPECT_EQ(f->metadata().at("format"), "pt");
  const auto& w = f->tensor("b.weight");
  EXPECT_EQ(w.dtype, StDtype::F32);
  EXPECT_EQ(w.shape, (std::vector<uint64_t>{2, 3}));
  std::vector<float> v(6);
  w.to_f32(v.data());
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::vector<float> part(2);
  w.to_f32(3, 2, part.data());
  EXPECT_EQ(part, (std::vector<float>{4, 5}));
  std::vector<float> h(4);
  f->tensor("a.half").to_f32(h.data());
  EXPECT_EQ(h, (std::vector<float>{0.5f, -1.0f, 2.0f, 65504.0f}));
  std::vector<float> bf(2);
  f->tensor("c.bf").to_f32(bf.data());
  EXPECT_EQ(bf, (std::vector<float>{1.5f, -3.0f}));
  EXPECT_EQ(f->find("nope"), nullptr);
  EXPECT_THROW(f->tensor("nope"), Error);
  std::vector<float> ids(2);
  EXPECT_THROW(f->tensor("ids").to_f32(ids.data()), Error);  // integers are not floats
  EXPECT_THROW(w.to_f32(5, 2, part.data()), Error);            // past the end
}

TEST(Safetensors, OpensFromDisk) {
  ragd::testing::ScratchDir dir;
  const auto bytes = sample();
  std::ofstream(dir / "m.safetensors", std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  auto f = SafetensorsFile::open(dir / "m.safetensors");
  EXPECT_EQ(f->tensors().size(), 4u);
  EXPECT_THROW(SafetensorsFile::open(dir / "missing.safetensors"), Error);
  std::ofstream(dir / "empty.safetensors").close();
  EXPECT_THROW(SafetensorsFile::open(dir / "empty.safetensors"), Error);
}

TEST(Safetensors, RejectsBadHeaders) {
  expect_error({1, 2, 3}, "only 3 bytes");
  auto huge = sample();
  huge[7] = 0x7f;  // header length far beyond the file
  expect_error(huge, "header length");
  expect_error(with_header("not json at all"), "not a JSON object");
  expect_error(with_header("[1, 2]"), "not a JSON object");
  expect_error(with_header(R"({"t": 5})"), "not an object");
  expect_error(with_header(R"({"t": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}})"),
               "unsupported dtype");
  expect_error(with_header(R"({"t": {"shape": [1], "data_offsets": [0, 4]}})"), "no dtype");
  expect_error(with_header(R"({"t": {"dtype": "F32", "data_offsets": [0, 4]}})"), "no shape");
  expect_error(with_header(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})"),
               "data_offsets");
  expect_error(with_header(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})"),
               "non-negative");
  expect_error(with_header(R"({"__metadata__": {"a": 1}})"), "not a string");
}

TEST(Safetensors, RejectsBadOffsets) {
  expect_error(with_header(R"({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", 8),
               "outside");
  expect_error(with_header(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [8, 4]}})"),
               "outside");
  expect_error(with_header(R"({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})"),
               "do not fill");
  expect_error(with_header(R"({"t": {"dtype": "F16", "shape": [4294967296, 4294967296, 16],)"
                           R"( "data_offsets": [0, 8]}})"),
               "overflows");
  expect_error(with_header(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
                           R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})"),
               "overlap");
}

// Every truncation and random byte corruption of a valid file either parses or throws
// ragd::Error; AddressSanitizer builds catch any out-of-bounds read.
TEST(Safetensors, SurvivesTruncationAndCorruption) {
  const auto good = sample();
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<long>(n));
    try {
      auto f = parse(b);
      for (const auto& t : f->tensors()) {
        uint8_t sink = 0;
        for (uint8_t x : t.data) sink = static_cast<uint8_t>(sink ^ x);
        EXPECT_GE(sink, 0);  // touches every byte
      }
    } catch (const Error&) {
    }
  }
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) {
    auto b = good;
    for (int k = 0; k < 3; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    try {
      auto f = parse(b);
      for (const auto& t : f->tensors()) {
        if (!t.is_float()) continue;
        std::vector<float> v(t.n_elements);
        t.to_f32(v.data());
      }
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace ragd::model
