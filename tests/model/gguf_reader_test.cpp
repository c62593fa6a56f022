// GGUF reader tests: writer → reader round trips for every value type, and damaged files
// (truncations at every offset, hostile headers, random byte flips). Every damaged input
// must raise ragd::Error — never crash, read out of bounds or allocate without bound. Run
// this binary under -DRAGD_ASAN=ON to prove the "no out-of-bounds read" part.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "gguf_test_util.h"
#include "model/gguf.h"
#include "model/gguf_writer.h"
#include "util/error.h"

namespace ragd::model {
namespace {

using kernels::TensorType;
using testing::Bytes;
using testing::parse_bytes;
using testing::touch_everything;

template <typename T>
T get(const GgufFile& f, std::string_view key) {
  const GgufValue* v = f.find(key);
  if (!v) throw std::runtime_error("missing " + std::string(key));
  return std::get<T>(*v);
}
const GgufArray& arr(const GgufFile& f, std::string_view key) { return f.get_array(key); }

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// A small file using every value type, nested arrays and four tensors of mixed types.
// The data outlives the writer's use because the caller keeps the returned tensors.
struct RichFile {
  std::vector<uint8_t> t0 = pattern(8 * 3 * 4, 1);  // F32 [8, 3]
  std::vector<uint8_t> t1 = pattern(34 * 2, 2);     // Q8_0 [32, 2]
  std::vector<uint8_t> t2 = pattern(5 * 2, 3);      // F16 [5]
  std::vector<uint8_t> t3 = pattern(16 * 4, 4);     // I32 [2, 2, 2, 2]
  GgufWriter w;

  RichFile() {
    w.set_string("general.architecture", "llama");
    w.set_u8("t.u8", 200);
    w.set_i8("t.i8", -5);
    w.set_u16("t.u16", 60000);
    w.set_i16("t.i16", -30000);
    w.set_u32("t.u32", 4000000000u);
    w.set_i32("t.i32", -2000000000);
    w.set_u64("t.u64", (uint64_t{1} << 63) + 5);
    w.set_i64("t.i64", -(int64_t{1} << 40));
    w.set_f32("t.f32", 1.5f);
    w.set_f64("t.f64", -2.25);
    w.set_bool("t.true", true);
    w.set_bool("t.false", false);
    w.set_string("t.str", std::string_view("h\xc3\xa9llo\n\0end", 11));
    w.set_string("t.empty", "");
    std::vector<int32_t> i32s = {1, -2, 3};
    w.set_array<int32_t>("a.i32", i32s);
    std::vector<float> f32s = {0.5f, -1.0f};
    w.set_array<float>("a.f32", f32s);
    std::vector<uint8_t> u8s = {0, 255};
    w.set_array<uint8_t>("a.u8", u8s);
    std::vector<double> f64s = {1e300};
    w.set_array<double>("a.f64", f64s);
    std::vector<int64_t> i64s = {};
    w.set_array<int64_t>("a.empty", i64s);
    w.set_array("a.bool", GgufArrayValue::bools({true, false, true}));
    std::vector<std::string> strs = {"a", "", "long string"};
    w.set_string_array("a.str", strs);
    std::vector<uint16_t> inner1 = {7, 8};
    std::vector<std::string> inner2 = {"x"};
    std::vector<GgufArrayValue> level2 = {GgufArrayValue::numbers<uint16_t>(inner1),
                                          GgufArrayValue::strings(inner2)};
    std::vector<GgufArrayValue> level1 = {GgufArrayValue::arrays(level2),
                                          GgufArrayValue::numbers<uint16_t>(inner1)};
    w.set_array("a.nested", GgufArrayValue::arrays(level1));
    w.set_u32("t.replaced", 1);
    w.set_u32("t.replaced", 2);  // replaces in place
    w.add_tensor("t0", TensorType::F32, {8, 3}, t0);
    w.add_tensor("t1", TensorType::Q8_0, {32, 2}, t1);
    w.add_tensor("t2", TensorType::F16, {5}, t2);
    w.add_tensor("t3", TensorType::I32, {2, 2, 2, 2}, t3);
  }
};

void check_rich(const GgufFile& f, const RichFile& src) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(get<uint8_t>(f, "t.u8"), 200);
  EXPECT_EQ(get<int8_t>(f, "t.i8"), -5);
  EXPECT_EQ(get<uint16_t>(f, "t.u16"), 60000);
  EXPECT_EQ(get<int16_t>(f, "t.i16"), -30000);
  EXPECT_EQ(get<uint32_t>(f, "t.u32"), 4000000000u);
  EXPECT_EQ(get<int32_t>(f, "t.i32"), -2000000000);
  EXPECT_EQ(get<uint64_t>(f, "t.u64"), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(get<int64_t>(f, "t.i64"), -(int64_t{1} << 40));
  EXPECT_EQ(get<float>(f, "t.f32"), 1.5f);
  EXPECT_EQ(get<double>(f, "t.f64"), -2.25);
  EXPECT_TRUE(f.get_bool("t.true"));
  EXPECT_FALSE(f.get_bool("t.false"));
  EXPECT_EQ(f.get_string("t.str"), std::string_view("h\xc3\xa9llo\n\0end", 11));
  EXPECT_EQ(f.get_string("t.empty"), "");
  EXPECT_EQ(f.get_uint("t.replaced"), 2u);
  EXPECT_EQ(arr(f, "a.i32").as<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(arr(f, "a.f32").as<float>(), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(arr(f, "a.u8").as<uint32_t>(), (std::vector<uint32_t>{0, 255}));
  EXPECT_EQ(arr(f, "a.f64").as<double>(), (std::vector<double>{1e300}));
  EXPECT_EQ(arr(f, "a.empty").count, 0u);
  EXPECT_EQ(arr(f, "a.empty").elem_type, GgufType::I64);
  EXPECT_EQ(arr(f, "a.bool").elem_type, GgufType::BOOL);
  EXPECT_EQ(arr(f, "a.bool").as<int32_t>(), (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(arr(f, "a.str").strings, (std::vector<std::string_view>{"a", "", "long string"}));
  const GgufArray& nested = arr(f, "a.nested");
  ASSERT_EQ(nested.elem_type, GgufType::ARRAY);
  ASSERT_EQ(nested.arrays.size(), 2u);
  ASSERT_EQ(nested.arrays[0]->arrays.size(), 2u);
  EXPECT_EQ(nested.arrays[0]->arrays[0]->as<int32_t>(), (std::vector<int32_t>{7, 8}));
  EXPECT_EQ(nested.arrays[0]->arrays[1]->strings, (std::vector<std::string_view>{"x"}));
  EXPECT_EQ(nested.arrays[1]->as<int32_t>(), (std::vector<int32_t>{7, 8}));
  // Insertion order is kept and the replaced key was not duplicated.
  EXPECT_EQ(f.metadata().front().first, "general.architecture");
  EXPECT_EQ(f.metadata().size(), src.w.metadata_count());

  ASSERT_EQ(f.tensors().size(), 4u);
  const std::vector<const std::vector<uint8_t>*> data = {&src.t0, &src.t1, &src.t2, &src.t3};
  const std::vector<TensorType> types = {TensorType::F32, TensorType::Q8_0, TensorType::F16,
                                         TensorType::I32};
  for (size_t i = 0; i < 4; ++i) {
    const GgufTensor& t = f.tensors()[i];
    EXPECT_EQ(t.name, "t" + std::to_string(i));
    EXPECT_EQ(t.type, types[i]);
    EXPECT_EQ(t.offset % 32, 0u);
    ASSERT_EQ(t.n_bytes, data[i]->size());
    EXPECT_EQ(std::memcmp(t.data, data[i]->data(), t.n_bytes), 0) << t.name;
  }
  EXPECT_EQ(f.tensor("t3").dims, (std::vector<uint64_t>{2, 2, 2, 2}));
  EXPECT_EQ(f.tensor("t0").rows(), 3u);
}

TEST(GgufRoundTrip, EveryValueType) {
  RichFile src;
  auto bytes = src.w.to_bytes();
  EXPECT_EQ(bytes.size() % 32, 0u);
  auto f = parse_bytes(bytes);
  check_rich(*f, src);
  touch_everything(*f, bytes);
}

TEST(GgufRoundTrip, CopyingAParsedFileReproducesItsBytes) {
  RichFile src;
  auto bytes = src.w.to_bytes();
  auto f = parse_bytes(bytes);
  GgufWriter copy;
  copy.copy_metadata(*f);
  for (const auto& t : f->tensors()) {
    copy.add_tensor(t.name, t.type, t.dims, std::span<const uint8_t>(t.data, t.n_bytes));
  }
  EXPECT_EQ(copy.to_bytes(), bytes);
}

TEST(GgufRoundTrip, CustomAlignment) {
  GgufWriter w;
  w.set_alignment(64);
  auto a = pattern(12, 1), b = pattern(4, 2);
  w.add_tensor("a", TensorType::F32, {3}, a);
  w.add_tensor("b", TensorType::F32, {1}, b);
  auto bytes = w.to_bytes();
  auto f = parse_bytes(bytes);
  EXPECT_EQ(f->alignment(), 64u);
  EXPECT_EQ(f->data_offset() % 64, 0u);
  EXPECT_EQ(f->tensor("b").offset, 64u);
  EXPECT_EQ(f->get_uint("general.alignment"), 64u);
  EXPECT_THROW(w.set_alignment(48), Error);
}

TEST(GgufRoundTrip, EmptyFile) {
  auto bytes = GgufWriter().to_bytes();
  auto f = parse_bytes(bytes);
  EXPECT_TRUE(f->metadata().empty());
  EXPECT_TRUE(f->tensors().empty());
}

// ---- damaged files ----------------------------------------------------------------------

// Every prefix shorter than the end of the last tensor's data must be rejected.
TEST(GgufDamaged, TruncationAtEveryOffset) {
  RichFile src;
  auto full = src.w.to_bytes();
  auto f = parse_bytes(full);
  const GgufTensor& last = f->tensors().back();
  size_t needed = f->data_offset() + last.offset + last.n_bytes;
  for (size_t len = 0; len < full.size(); ++len) {
    // An exact-size heap copy, so AddressSanitizer flags any read past `len`.
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
    if (len < needed) {
      EXPECT_THROW(parse_bytes(cut), Error) << "prefix of " << len << " bytes";
    } else {
      auto g = parse_bytes(cut);  // only trailing padding is missing
      touch_everything(*g, cut);
    }
  }
}

void expect_error(const std::vector<uint8_t>& bytes, std::string_view fragment) {
  try {
    auto f = parse_bytes(bytes);
    ADD_FAILURE() << "parsed, expected an error containing '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(GgufDamaged, BadMagicAndVersion) {
  expect_error(Bytes().u32(0x46554746).u32(3).u64(0).u64(0).b, "not a GGUF file");
  expect_error(Bytes().str("GG").b, "not a GGUF file");
  expect_error({}, "not a GGUF file");
  for (uint32_t v : {0u, 1u, 4u, 0xFFFFFFFFu}) {
    expect_error(Bytes().header(0, 0, v).b, "version");
  }
  auto ok = Bytes().header(0, 0, 2).b;
  EXPECT_EQ(parse_bytes(ok)->version(), 2u);
}

TEST(GgufDamaged, AbsurdCounts) {
  const uint64_t huge[] = {uint64_t{1} << 63, ~uint64_t{0}, 1000};
  for (uint64_t n : huge) {
    expect_error(Bytes().header(n, 0).b, "cannot fit");
    expect_error(Bytes().header(0, n).b, "cannot fit");
  }
}

TEST(GgufDamaged, HugeStringLengths) {
  for (uint64_t n : {uint64_t{1} << 63, ~uint64_t{0}, uint64_t{100}}) {
    // Key length.
    expect_error(Bytes().header(0, 1).u64(n).zeros(16).b, "truncated");
    // String value length.
    expect_error(Bytes().header(0, 1).str("k").type(GgufType::STRING).u64(n).zeros(8).b,
                 "truncated");
    // String inside an array.
    expect_error(Bytes().header(0, 1).str("k").type(GgufType::ARRAY).type(GgufType::STRING)
                     .u64(1).u64(n).zeros(8).b,
                 "truncated");
    // Tensor name length.
    expect_error(Bytes().header(1, 0).u64(n).zeros(32).b, "truncated");
  }
}

TEST(GgufDamaged, HugeArrayCounts) {
  for (uint64_t n : {uint64_t{1} << 62, uint64_t{1} << 63, ~uint64_t{0}}) {
    for (GgufType t : {GgufType::U8, GgufType::U64, GgufType::STRING, GgufType::ARRAY}) {
      expect_error(Bytes().header(0, 1).str("k").type(GgufType::ARRAY).type(t).u64(n).zeros(64).b,
                   "array");
    }
  }
}

TEST(GgufDamaged, UnknownValueTypes) {
  for (uint32_t t : {13u, 100u, 0xFFFFFFFFu}) {
    expect_error(Bytes().header(0, 1).str("k").u32(t).zeros(16).b, "unknown value type");
    expect_error(Bytes().header(0, 1).str("k").type(GgufType::ARRAY).u32(t).u64(1).zeros(16).b,
                 "unknown value type");
  }
}

TEST(GgufDamaged, BoolsMustBeZeroOrOne) {
  expect_error(Bytes().header(0, 1).str("k").type(GgufType::BOOL).u8(2).b, "bool");
  expect_error(Bytes().header(0, 1).str("k").type(GgufType::ARRAY).type(GgufType::BOOL)
                   .u64(3).u8(0).u8(1).u8(255).b,
               "bool");
  auto ok = Bytes().header(0, 1).str("k").type(GgufType::BOOL).u8(1).b;
  EXPECT_TRUE(parse_bytes(ok)->get_bool("k"));
}

TEST(GgufDamaged, DuplicateKeysAndTensorNames) {
  expect_error(Bytes().header(0, 2).str("k").type(GgufType::U8).u8(1).str("k")
                   .type(GgufType::U8).u8(2).b,
               "duplicate metadata key");
  expect_error(Bytes().header(2, 0).tensor_info("t", 8, 0).tensor_info("t", 8, 32).pad(32)
                   .zeros(64).b,
               "duplicate tensor name");
}

// Arrays of arrays nested N deep: [[[...[u8 x 1]...]]].
std::vector<uint8_t> nested_file(int depth) {
  Bytes b;
  b.header(0, 1).str("k").type(GgufType::ARRAY);
  for (int i = 1; i < depth; ++i) b.type(GgufType::ARRAY).u64(1);
  b.type(GgufType::U8).u64(1).u8(7);
  return b.b;
}

TEST(GgufDamaged, DeepNestedArrays) {
  auto ok = nested_file(4);
  auto f = parse_bytes(ok);
  touch_everything(*f, ok);
  for (int depth : {9, 100, 100000}) expect_error(nested_file(depth), "nested too deeply");
}

TEST(GgufDamaged, BadTensorInfo) {
  auto base = [] { return Bytes().header(1, 0); };
  // Unknown tensor types (4 and 5 were Q4_2/Q4_3, removed from GGML).
  for (uint32_t t : {4u, 99u, 0xFFFFFFFFu}) {
    expect_error(base().tensor_info("t", 8, 0, t).pad(32).zeros(64).b, "unsupported type");
  }
  for (uint32_t nd : {0u, 5u, 0xFFFFFFFFu}) {
    expect_error(base().str("t").u32(nd).u64(8).u32(0).u64(0).pad(32).zeros(64).b,
                 "dimensions");
  }
  expect_error(base().tensor_info("t", 0, 0).pad(32).zeros(64).b, "invalid dimension");
  expect_error(base().tensor_info("t", uint64_t{1} << 63, 0).pad(32).zeros(64).b,
               "invalid dimension");
  // Each dim is fine alone, their product overflows.
  expect_error(base().str("t").u32(3).u64(1u << 30).u64(1u << 30).u64(1u << 30).u32(0).u64(0)
                   .pad(32).zeros(64).b,
               "invalid dimension");
  // Row length not a multiple of the Q8_0 block.
  expect_error(base().tensor_info("t", 33, 0, 8).pad(32).zeros(64).b, "block size");
  for (uint64_t off : {1u, 16u, 31u}) {
    expect_error(base().tensor_info("t", 8, off).pad(32).zeros(96).b, "not aligned");
  }
}

TEST(GgufDamaged, TensorDataBeyondEof) {
  auto base = [] { return Bytes().header(1, 0); };
  expect_error(base().tensor_info("t", 8, 0).pad(32).zeros(31).b, "beyond the end");
  expect_error(base().tensor_info("t", 8, 32).pad(32).zeros(32).b, "beyond the end");
  expect_error(base().tensor_info("t", 8, uint64_t{1} << 40).pad(32).zeros(32).b,
               "beyond the end");
  // Offset + size wraps around 2^64.
  expect_error(base().tensor_info("t", 8, ~uint64_t{31}).pad(32).zeros(32).b, "beyond the end");
  expect_error(base().tensor_info("t", uint64_t{1} << 39, 0).pad(32).zeros(32).b,
               "beyond the end");
  auto ok = base().tensor_info("t", 8, 0).pad(32).zeros(32).b;
  EXPECT_EQ(parse_bytes(ok)->tensor("t").n_bytes, 32u);
}

TEST(GgufDamaged, BadAlignmentKey) {
  for (uint32_t a : {0u, 3u, 48u, 1u << 21}) {
    expect_error(Bytes().header(0, 1).str("general.alignment").type(GgufType::U32).u32(a).b,
                 "alignment");
  }
  expect_error(Bytes().header(0, 1).str("general.alignment").type(GgufType::STRING).str("32").b,
               "alignment");
}

// Random byte flips of a valid file: each result must parse or raise ragd::Error.
TEST(GgufDamaged, RandomByteFlips) {
  RichFile src;
  const auto full = src.w.to_bytes();
  const size_t header_size = parse_bytes(full)->data_offset();
  std::mt19937 rng(12345);
  const uint8_t specials[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x09, 0x0D};
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 50000; ++iter) {
    std::vector<uint8_t> b = full;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly hit the header, where the structure lives.
      size_t pos = rng() % 10 ? rng() % header_size : rng() % b.size();
      b[pos] = rng() % 2 ? specials[rng() % std::size(specials)] : static_cast<uint8_t>(rng());
    }
    if (iter % 10 == 0) b.resize(rng() % b.size());  // sometimes also truncate
    try {
      auto f = parse_bytes(b);
      touch_everything(*f, b);
      ++parsed;
    } catch (const Error&) {
      ++rejected;
    }
  }
  // Both outcomes occur: the loop really exercises the error paths and the happy path.
  EXPECT_GT(parsed, 100);
  EXPECT_GT(rejected, 1000);
}

TEST(GgufArray, ConversionOutOfRangeIsAnError) {
  std::vector<float> f32s = {1.0f, NAN};
  GgufWriter w;
  w.set_array<float>("f", f32s);
  std::vector<float> big = {3e9f};
  w.set_array<float>("big", big);
  std::vector<uint64_t> u64s = {uint64_t{1} << 40};
  w.set_array<uint64_t>("u", u64s);
  auto bytes = w.to_bytes();
  auto f = parse_bytes(bytes);
  EXPECT_THROW(f->get_array("f").as<int32_t>(), Error);
  EXPECT_THROW(f->get_array("big").as<int32_t>(), Error);
  EXPECT_THROW(f->get_array("u").as<int32_t>(), Error);
  EXPECT_EQ(f->get_array("u").as<int64_t>().at(0), int64_t{1} << 40);
  EXPECT_TRUE(std::isnan(f->get_array("f").as<float>().at(1)));
}

// ---- real files -------------------------------------------------------------------------

TEST(GgufRealFile, Stories260K) {
  std::string path = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not present";
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->architecture(), "llama");
  EXPECT_EQ(f->get_uint("llama.embedding_length"), 64u);
  EXPECT_EQ(f->get_uint("llama.block_count"), 5u);
  EXPECT_EQ(f->get_uint("llama.feed_forward_length"), 172u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count"), 8u);
  EXPECT_EQ(f->get_uint("llama.attention.head_count_kv"), 4u);
  EXPECT_EQ(f->tensors().size(), 48u);
  EXPECT_EQ(f->get_array("tokenizer.ggml.tokens").count, 512u);
  const GgufTensor& emb = f->tensor("token_embd.weight");
  EXPECT_EQ(emb.type, TensorType::F32);
  EXPECT_EQ(emb.dims, (std::vector<uint64_t>{64, 512}));

  // Re-writing it through GgufWriter reproduces the file byte for byte.
  GgufWriter w;
  w.copy_metadata(*f);
  for (const auto& t : f->tensors()) {
    w.add_tensor(t.name, t.type, t.dims, std::span<const uint8_t>(t.data, t.n_bytes));
  }
  auto bytes = w.to_bytes();
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> original((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  EXPECT_TRUE(bytes == original) << "rewritten file differs from the original";
}

}  // namespace
}  // namespace ragd::model
