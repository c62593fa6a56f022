// EmbeddingServiceOptions::precision: the service runs the encoder in int8 (Q8_0 weights
// quantized at load) or as the file stores it, names the choice in model_id() so that the
// cache never serves one precision's vector for the other, and int8 stays close to f32.
#include <gtest/gtest.h>

#include <cmath>

#include "../model/tiny_bert.h"
#include "engine/embedding_service.h"
#include "model/convert_bert.h"

namespace ragd::engine {
namespace {

using ragd::testing::ScratchDir;
using ragd::testing::TinyBert;

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST(EmbeddingPrecision, ModelIdNamesTheTypeAndTheCacheKeepsPrecisionsApart) {
  ScratchDir dir;
  TinyBert tb;
  tb.write(dir.path() / "ckpt");
  model::ConvertBertOptions c;
  c.name = "tiny";
  model::convert_bert((dir.path() / "ckpt").string(), dir / "tiny.gguf", c);

  EmbeddingServiceOptions o;
  EXPECT_EQ(o.precision, model::BertPrecision::Int8);  // the measured default
  o.threads = 2;
  o.cache = std::make_shared<EmbeddingCache>(100);  // one cache for both services
  o.precision = model::BertPrecision::F32;
  auto f32 = EmbeddingService::open(dir / "tiny.gguf", o);
  o.precision = model::BertPrecision::Int8;
  auto int8 = EmbeddingService::open(dir / "tiny.gguf", o);
  EXPECT_EQ(f32->model_id(), "tiny/f32");
  EXPECT_EQ(int8->model_id(), "tiny/q8_0");
  EXPECT_EQ(f32->name(), int8->name());  // stored vectors name the model, not the precision

  const std::vector<std::string> texts = {"hello world", "the cat sat on a mat", "dogs"};
  const auto a = f32->embed(texts);
  const auto b = int8->embed(texts);
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_GT(ragd::testing::cosine(a[i], tb.reference(f32->tokenize(texts[i]))), 1 - 1e-6);
    EXPECT_GT(cosine(a[i], b[i]), 0.995) << texts[i];
    EXPECT_NE(a[i], b[i]) << "int8 served the f32 vector of '" << texts[i] << "' from the cache";
  }
  EXPECT_EQ(int8->stats().cache_hits, 0u);
  EXPECT_EQ(int8->stats().computed, texts.size());
}

}  // namespace
}  // namespace ragd::engine
