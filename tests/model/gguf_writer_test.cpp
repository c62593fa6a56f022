// GgufWriter tests beyond the reader round trips: atomic streaming writes to disk,
// producer contracts and tensor validation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "model/gguf.h"
#include "gguf_test_util.h"
#include "model/gguf_writer.h"
#include "util/error.h"

namespace ragd::model {
namespace {

namespace fs = std::filesystem;
using kernels::TensorType;

// The test's own scratch directory.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("ragd-writer") {}
};

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

GgufWriter::Producer bytes_of(uint8_t value, size_t n, size_t piece) {
  return [=](const GgufWriter::ChunkWriter& write) {
    std::vector<uint8_t> buf(piece, value);
    for (size_t off = 0; off < n; off += piece) write(buf.data(), std::min(piece, n - off));
  };
}

TEST(GgufWriter, StreamsToDiskAtomically) {
  TempDir dir;
  GgufWriter w;
  w.set_string("general.architecture", "test");
  w.add_tensor("a", TensorType::F32, {1000, 3}, bytes_of(7, 12000, 1000));
  w.add_tensor("b", TensorType::Q8_0, {64}, bytes_of(1, 68, 5));
  std::vector<size_t> done;
  const std::string path = dir.file("m.gguf");
  w.write(path, [&](size_t i) { done.push_back(i); });
  EXPECT_EQ(done, (std::vector<size_t>{0, 1}));
  EXPECT_FALSE(fs::exists(path + ".part"));
  EXPECT_EQ(read_all(path), w.to_bytes());
  auto f = GgufFile::open(path);
  EXPECT_EQ(f->tensor("a").data[11999], 7);
  EXPECT_EQ(f->tensor("b").n_bytes, 68u);
}

TEST(GgufWriter, FailedWriteLeavesNoFileAndKeepsTheOldOne) {
  TempDir dir;
  const std::string path = dir.file("m.gguf");
  {
    std::ofstream old(path);
    old << "previous contents";
  }
  GgufWriter w;
  w.add_tensor("ok", TensorType::F32, {4}, bytes_of(0, 16, 16));
  w.add_tensor("bad", TensorType::F32, {1 << 20}, [](const GgufWriter::ChunkWriter& write) {
    std::vector<uint8_t> buf(1 << 20, 0);
    write(buf.data(), buf.size());
    fail("simulated failure half way");
  });
  EXPECT_THROW(w.write(path), Error);
  EXPECT_FALSE(fs::exists(path + ".part"));
  std::ifstream in(path);
  std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(contents, "previous contents");
}

TEST(GgufWriter, ProducerMustWriteExactSize) {
  GgufWriter short_w;
  short_w.add_tensor("t", TensorType::F32, {4}, bytes_of(0, 12, 4));
  EXPECT_THROW(short_w.to_bytes(), Error);
  GgufWriter long_w;
  long_w.add_tensor("t", TensorType::F32, {4}, bytes_of(0, 20, 4));
  EXPECT_THROW(long_w.to_bytes(), Error);
}

TEST(GgufWriter, RejectsInvalidTensors) {
  GgufWriter w;
  std::vector<uint8_t> data(16);
  w.add_tensor("t", TensorType::F32, {4}, data);
  EXPECT_THROW(w.add_tensor("t", TensorType::F32, {4}, data), Error);        // duplicate
  EXPECT_THROW(w.add_tensor("u", TensorType::F32, {5}, data), Error);        // size mismatch
  EXPECT_THROW(w.add_tensor("v", TensorType::F32, {}, data), Error);         // no dims
  EXPECT_THROW(w.add_tensor("v", TensorType::F32, {1, 1, 1, 1, 4}, data), Error);
  EXPECT_THROW(w.add_tensor("v", TensorType::F32, {0, 4}, data), Error);     // zero dim
  EXPECT_THROW(w.add_tensor("v", TensorType::Q8_0, {16}, data), Error);      // partial block
  EXPECT_THROW(w.add_tensor(std::string(64, 'x'), TensorType::F32, {4}, data), Error);
  EXPECT_THROW(w.add_tensor("", TensorType::F32, {4}, data), Error);
  EXPECT_EQ(w.tensor_count(), 1u);
  // Still writable after the rejected additions.
  EXPECT_EQ(GgufFile::parse(w.to_bytes(), "x")->tensors().size(), 1u);
}

TEST(GgufWriter, MetadataSetRemoveAndAlignment) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_string("b", "x");
  w.set_u32("a", 2);
  EXPECT_EQ(w.metadata_count(), 2u);
  EXPECT_TRUE(w.remove("b"));
  EXPECT_FALSE(w.remove("b"));
  EXPECT_FALSE(w.has("b"));
  EXPECT_EQ(w.alignment(), 32u);
  w.set_u64("general.alignment", 128);  // any unsigned type is honoured
  EXPECT_EQ(w.alignment(), 128u);
  w.set_string("general.alignment", "oops");
  EXPECT_THROW(w.alignment(), Error);
  EXPECT_THROW(w.set_u8("", 1), Error);
}

TEST(GgufWriter, UnwritableDirectoryIsAnError) {
  GgufWriter w;
  EXPECT_THROW(w.write("/nonexistent-dir-ragd/x.gguf"), Error);
}

}  // namespace
}  // namespace ragd::model
