// Sha256 against the FIPS 180-2 test vectors, incrementally and over a file.
#include "util/sha256.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "util/error.h"

namespace ragd {
namespace {

std::string digest(std::string_view text) {
  Sha256 sha;
  sha.update(text);
  return sha.hex_digest();
}

TEST(Sha256, MatchesKnownVectors) {
  EXPECT_EQ(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  Sha256 sha;
  sha.update("ab");
  sha.update("");
  sha.update("c");
  EXPECT_EQ(sha.hex_digest(), digest("abc"));
  EXPECT_THROW(sha.update("more"), Error);  // finished
}

TEST(Sha256, HashesFiles) {
  const auto path = std::filesystem::temp_directory_path() / ("ragd-sha256-" + std::to_string(::getpid()));
  std::ofstream(path) << std::string(3 << 20, 'a');  // several read buffers
  Sha256 sha;
  sha.update(std::string(3 << 20, 'a'));
  EXPECT_EQ(sha256_file(path.string()), sha.hex_digest());
  std::filesystem::remove(path);
  EXPECT_THROW(sha256_file(path.string()), Error);
}

}  // namespace
}  // namespace ragd
