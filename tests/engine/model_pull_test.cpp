// engine::pull_model's contract where no download is needed or the download fails: an
// installed file that verifies is found without running anything; a failure or an
// abandoning progress callback leaves the directory as it was. (Downloads themselves are
// tested end to end, offline, by tests/app/pull_budget_test.sh and tests/e2e/ollama_pull_test.py.)
#include "engine/model_pull.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "util/error.h"

namespace ragd::engine {
namespace {

namespace fs = std::filesystem;

class ModelPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ragd-model-pull-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    model_.name = "Tiny.Q8_0";
    model_.bytes = 5;
    model_.sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";  // "hello"
    model_.parts.push_back({"ragd-test-missing==0.1.0", std::string(64, '0'), "x/Tiny.Q8_0.gguf"});
    options_.dir = dir_.string();
    options_.python = "/nonexistent/ragd-test-python";  // any download fails to start
  }
  void TearDown() override { fs::remove_all(dir_); }

  size_t files_in_dir() const {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_)) ++n;
    return n;
  }

  fs::path dir_;
  CatalogModel model_;
  ModelPullOptions options_;
};

TEST_F(ModelPullTest, InstalledFileThatVerifiesIsFoundWithoutDownloading) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "Tiny.Q8_0.gguf") << "hello";
  int calls = 0;
  options_.progress = [&](const PullProgress&) { ++calls; };
  const PullResult r = pull_model(model_, options_);
  EXPECT_TRUE(r.already_installed);
  EXPECT_EQ(r.path, (dir_ / "Tiny.Q8_0.gguf").string());
  EXPECT_EQ(calls, 0);
}

TEST_F(ModelPullTest, ACorruptInstalledFileIsNotReplacedWhenTheDownloadFails) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "Tiny.Q8_0.gguf") << "jello";  // right size, wrong hash
  try {
    pull_model(model_, options_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot run '/nonexistent/ragd-test-python -m pip'"), std::string::npos)
        << e.what();
  }
  // The failed pull leaves no partial file and does not touch the installed name.
  EXPECT_EQ(files_in_dir(), 1u);
  std::ifstream in(dir_ / "Tiny.Q8_0.gguf");
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "jello");
}

TEST_F(ModelPullTest, AProgressCallbackThatThrowsAbandonsThePull) {
  struct Gone {};
  options_.progress = [](const PullProgress& p) {
    EXPECT_EQ(p.phase, PullPhase::Fetching);
    EXPECT_EQ(p.parts, 1u);
    EXPECT_EQ(p.total, 5u);
    throw Gone{};
  };
  EXPECT_THROW(pull_model(model_, options_), Gone);
  EXPECT_EQ(files_in_dir(), 0u);  // the directory was made, but no partial file is left
}

TEST_F(ModelPullTest, AnUncreatableDirectoryIsAClearError) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  options_.dir = (dir_ / "file" / "models").string();
  try {
    pull_model(model_, options_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create the model directory"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ragd::engine
