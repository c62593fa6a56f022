// rag::profile_model: which model a request that names none answers with.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "engine/model_catalog.h"
#include "engine/model_registry.h"
#include "rag/answer/answer_service.h"

namespace ragd::rag {
namespace {

namespace fs = std::filesystem;
const std::string kLlm = std::string(RAGD_SHARED_DIR) + "/models/stories260K.gguf";

class ProfileModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kLlm)) GTEST_SKIP() << kLlm << " missing";
    dir_ = fs::temp_directory_path() / ("ragd-profile-model-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Installs the tiny test model under the file name of the catalog model `alias` names.
  std::string install_as(const std::string& alias) {
    const engine::CatalogModel* m = engine::ModelCatalog::builtin().find(alias);
    if (!m) return "";
    fs::copy_file(kLlm, dir_ / m->file_name(), fs::copy_options::overwrite_existing);
    return m->name;
  }
  engine::ModelRegistry registry() {
    engine::RegistryOptions o;
    o.model_dir = dir_.string();
    return engine::ModelRegistry(o);
  }
  fs::path dir_;
};

TEST_F(ProfileModelTest, FastAnswersWithTheInstalledFastModel) {
  const std::string fast = install_as("fast");
  ASSERT_FALSE(fast.empty()) << "the catalog has no 'fast' model";
  engine::ModelRegistry r = registry();
  r.add({"main", kLlm, engine::ModelKind::Llm});
  EXPECT_EQ(profile_model("fast", r), fast);
  // "default" always means the registry's default model, whatever the catalog says.
  EXPECT_EQ(profile_model("default", r), "");
}

TEST_F(ProfileModelTest, AProfileWhoseModelIsNotInstalledKeepsTheDefault) {
  engine::ModelRegistry r = registry();
  r.add({"main", kLlm, engine::ModelKind::Llm});
  EXPECT_EQ(profile_model("fast", r), "");
  EXPECT_EQ(profile_model("quality", r), "");
  EXPECT_EQ(profile_model("no-such-profile", r), "");
}

}  // namespace
}  // namespace ragd::rag
