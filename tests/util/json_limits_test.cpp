#include "util/json_limits.h"

#include <gtest/gtest.h>

#include <string>

namespace ragd {
namespace {

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(JsonLimits, DepthCountsContainersOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("1"), 0u);
  EXPECT_EQ(json_nesting_depth("[]"), 1u);
  EXPECT_EQ(json_nesting_depth(R"([{"a": [1, {"b": []}]}])"), 5u);
  // Brackets inside strings, escaped quotes included, do not count.
  EXPECT_EQ(json_nesting_depth(R"({"k": "[[[[\"[[[["})"), 1u);
  EXPECT_EQ(json_nesting_depth(R"(["\\", [[]]])"), 3u);
}

TEST(JsonLimits, DepthScanStopsPastTheLimit) {
  EXPECT_EQ(json_nesting_depth(nested_arrays(1000), 10), 11u);
}

TEST(JsonLimits, AcceptsNestingUpToTheLimit) {
  auto j = parse_json_bounded(nested_arrays(64), 64);
  EXPECT_TRUE(j.is_array());
  EXPECT_NO_THROW(parse_json_bounded(R"({"a": {"b": [1, 2, "]]]"]}})", 3));
}

TEST(JsonLimits, RefusesDeepNestingWithoutBuildingIt) {
  // 60,000 levels: building this value and destroying it recursively would overflow the stack.
  std::string hostile = R"({"filters": )" + nested_arrays(60000) + "}";
  try {
    parse_json_bounded(hostile);
    FAIL() << "expected JsonTooDeep";
  } catch (const JsonTooDeep& e) {
    EXPECT_EQ(e.limit(), kMaxJsonDepth);
    EXPECT_STREQ(e.what(), "JSON nesting deeper than 64 levels");
  }
  EXPECT_THROW(parse_json_bounded(nested_arrays(65), 64), JsonTooDeep);
  EXPECT_THROW(parse_json_bounded("{\"a\":" + std::string(100, '{')), JsonTooDeep);  // unterminated too
}

TEST(JsonLimits, SyntaxErrorsStayParseErrors) {
  EXPECT_THROW(parse_json_bounded("{\"a\": }"), nlohmann::json::parse_error);
  EXPECT_THROW(parse_json_bounded(""), nlohmann::json::parse_error);
}

TEST(JsonLimits, TryParseReportsWhy) {
  std::string why;
  EXPECT_TRUE(try_parse_json_bounded(nested_arrays(100), why, 64).is_discarded());
  EXPECT_EQ(why, "JSON nesting deeper than 64 levels");
  EXPECT_TRUE(try_parse_json_bounded("{oops", why).is_discarded());
  EXPECT_EQ(why, "invalid JSON");
  why.clear();
  auto ok = try_parse_json_bounded(R"({"id": 1})", why);
  ASSERT_FALSE(ok.is_discarded());
  EXPECT_EQ(ok["id"], 1);
  EXPECT_TRUE(why.empty());
}

}  // namespace
}  // namespace ragd
