// The installed-model store: listing a model directory, describing files from their
// headers (bad ones included), finding models by name; and the registry offering them.
#include "engine/model_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/model_registry.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;
const std::string kStories = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kStories)) GTEST_SKIP() << kStories << " missing";
    dir_ = fs::temp_directory_path() / ("ragd-model-store-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(kStories, dir_ / "Stories-260K.gguf");
    std::ofstream(dir_ / "broken.gguf") << "not a gguf file";
    std::ofstream(dir_ / "notes.txt") << "ignored";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  RegistryOptions options() const {
    RegistryOptions o;
    o.threads = 1;
    o.scheduler.max_kv_cache_bytes = 4u << 20;
    o.scheduler.ctx_size = 256;
    o.model_dir = dir_.string();
    return o;
  }
  fs::path dir_;
};

TEST_F(ModelStoreTest, ListsGgufFilesWithTheirHeaderFacts) {
  auto models = list_installed_models(dir_.string());
  ASSERT_EQ(models.size(), 2u);  // notes.txt is not a model
  EXPECT_EQ(models[0].name, "Stories-260K");  // sorted: 'S' < 'b'
  EXPECT_EQ(models[0].architecture, "llama");
  EXPECT_FALSE(models[0].quantization.empty());
  EXPECT_EQ(models[0].bytes, fs::file_size(kStories));
  EXPECT_TRUE(models[0].error.empty());
  EXPECT_FALSE(models[0].is_embedder());
  EXPECT_EQ(models[1].name, "broken");
  EXPECT_FALSE(models[1].error.empty());  // listed, so that the user can see and remove it
  EXPECT_TRUE(list_installed_models((dir_ / "missing").string()).empty());
}

TEST_F(ModelStoreTest, FindsByStemFileNameOrCase) {
  const std::string want = (dir_ / "Stories-260K.gguf").string();
  EXPECT_EQ(find_installed_model(dir_.string(), "Stories-260K"), want);
  EXPECT_EQ(find_installed_model(dir_.string(), "Stories-260K.gguf"), want);
  EXPECT_EQ(find_installed_model(dir_.string(), "stories-260k"), want);
  EXPECT_EQ(find_installed_model(dir_.string(), "Stories"), std::nullopt);
  EXPECT_EQ(find_installed_model(dir_.string(), "notes"), std::nullopt);
  EXPECT_EQ(find_installed_model(dir_.string(), dir_.string() + "/Stories-260K"), std::nullopt);  // names only
  EXPECT_EQ(find_installed_model(dir_.string(), ""), std::nullopt);
}

TEST_F(ModelStoreTest, RegistryOffersInstalledModelsByName) {
  ModelRegistry r(options());
  EXPECT_FALSE(r.default_model(ModelKind::Llm).has_value());  // installed models are never defaults
  EXPECT_TRUE(r.contains("Stories-260K"));
  EXPECT_FALSE(r.contains("broken"));  // unreadable header: skipped
  auto m = r.acquire("Stories-260K", ModelKind::Llm);
  ASSERT_NE(m->llm, nullptr);
  bool listed = false;
  for (const auto& s : r.status()) {
    if (s.spec.name == "Stories-260K") listed = s.loaded && s.spec.kind == ModelKind::Llm;
  }
  EXPECT_TRUE(listed);
}

TEST_F(ModelStoreTest, RegistrySeesModelsInstalledAndRemovedLater) {
  ModelRegistry r(options());
  EXPECT_FALSE(r.contains("Later"));
  fs::copy_file(kStories, dir_ / "Later.gguf");  // e.g. `ragd pull` while the server runs
  EXPECT_TRUE(r.contains("Later"));
  fs::remove(dir_ / "Later.gguf");  // `ragd rm`: gone from the listing while not loaded
  EXPECT_FALSE(r.contains("Later"));
  for (const auto& s : r.status()) EXPECT_NE(s.spec.name, "Later");
  EXPECT_THROW(r.acquire("Later", ModelKind::Llm), Error);
}

TEST_F(ModelStoreTest, AddedModelsKeepTheirNamesAndAreNotListedTwice) {
  ModelRegistry r(options());
  r.add({.name = "main", .path = (dir_ / "Stories-260K.gguf").string(), .kind = ModelKind::Llm});
  r.add({.name = "broken", .path = (dir_ / "Stories-260K.gguf").string(), .kind = ModelKind::Llm});
  EXPECT_EQ(r.default_model(ModelKind::Llm), "main");
  size_t stories = 0;
  for (const auto& s : r.status()) stories += s.spec.path.ends_with("Stories-260K.gguf");
  EXPECT_EQ(stories, 2u);  // "main" and "broken" (an explicit name wins over the broken file)
  EXPECT_FALSE(r.contains("Stories-260K"));  // the same file under its added name only
}

}  // namespace
}  // namespace ragd::engine
