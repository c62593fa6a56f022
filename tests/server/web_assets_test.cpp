#include "server/web_assets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ragd::server {
namespace {

namespace fs = std::filesystem;

TEST(WebAssets, EmbedsEveryFileOfWebWithItsBytes) {
  const fs::path web = fs::path(RAGD_SOURCE_DIR) / "web";
  size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(web)) {
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".")) continue;
    ++files;
    const std::string rel = fs::relative(entry.path(), web).generic_string();
    const WebAsset* a = find_web_asset(rel);
    ASSERT_NE(a, nullptr) << rel << " is not embedded (rebuild?)";
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    EXPECT_EQ(a->body, bytes.str()) << rel << " differs from the embedded copy";
  }
  EXPECT_EQ(web_assets().size(), files);
}

TEST(WebAssets, ContentTypesAndEtags) {
  const WebAsset* index = find_web_asset("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<title>ragd</title>"), std::string_view::npos);
  const WebAsset* app = find_web_asset("app.js");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->content_type, "text/javascript; charset=utf-8");
  const WebAsset* css = find_web_asset("style.css");
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(css->content_type, "text/css; charset=utf-8");
  ASSERT_NE(find_web_asset("pages/ask.js"), nullptr);  // files in subfolders keep their path
  // ETags are quoted and differ between files of different content.
  EXPECT_TRUE(index->etag.size() > 2 && index->etag.front() == '"' && index->etag.back() == '"');
  EXPECT_NE(index->etag, app->etag);
}

TEST(WebAssets, SortedAndNoEscapes) {
  auto all = web_assets();
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(), [](const WebAsset& a, const WebAsset& b) { return a.path < b.path; }));
  EXPECT_EQ(find_web_asset(""), nullptr);
  EXPECT_EQ(find_web_asset("/index.html"), nullptr);
  EXPECT_EQ(find_web_asset("../CMakeLists.txt"), nullptr);
  EXPECT_EQ(find_web_asset("pages/../app.js"), nullptr);
  EXPECT_EQ(find_web_asset("pages\\ask.js"), nullptr);
  EXPECT_EQ(find_web_asset("nope.js"), nullptr);
  EXPECT_EQ(find_web_asset("index.htm"), nullptr);
}

}  // namespace
}  // namespace ragd::server
