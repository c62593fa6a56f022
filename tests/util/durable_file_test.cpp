#include "util/durable_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "util/error.h"

namespace ragd {
namespace {

namespace fs = std::filesystem;

class DurableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ragd_durable_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  fs::path dir_;
};

TEST_F(DurableFile, WritesAndReplacesWithoutLeavingTheTemporaryFile) {
  const fs::path f = dir_ / "data.bin";
  write_file_durably(f, std::string("first\0x", 7));
  EXPECT_EQ(read(f), std::string("first\0x", 7));
  write_file_durably(f, "second");
  EXPECT_EQ(read(f), "second");
  EXPECT_FALSE(fs::exists(dir_ / "data.bin.tmp"));
}

TEST_F(DurableFile, AFailedWriteLeavesTheOldContentAndNamesTheFile) {
  const fs::path f = dir_ / "data.bin";
  write_file_durably(f, "old content");
  // A full disk, simulated with a file-size limit (SIGXFSZ ignored, so write() fails EFBIG).
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small{4096, saved.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write_file_durably(f, std::string(1 << 20, 'n'));
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find("data.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("too large"), std::string::npos) << message;
  EXPECT_EQ(read(f), "old content");
  EXPECT_FALSE(fs::exists(dir_ / "data.bin.tmp"));

  EXPECT_THROW(write_file_durably(dir_ / "no" / "such" / "dir.bin", "x"), Error);
}

TEST_F(DurableFile, CommitMovesAnotherWritersFile) {
  const fs::path tmp = dir_ / "index.tmp", f = dir_ / "index";
  std::ofstream(tmp) << "payload";
  commit_file_durably(tmp, f);
  EXPECT_EQ(read(f), "payload");
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_THROW(commit_file_durably(dir_ / "missing.tmp", f), Error);
  EXPECT_EQ(read(f), "payload");
}

}  // namespace
}  // namespace ragd
