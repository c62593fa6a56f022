#include "server/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ragd::server {
namespace {

TEST(RequestId, KeepsAPlainTokenFromTheClient) {
  EXPECT_EQ(request_id("abc-123_X.y:z"), "abc-123_X.y:z");
  const std::string longest(128, 'a');
  EXPECT_EQ(request_id(longest), longest);
}

TEST(RequestId, ReplacesAnythingElseWithANewHexId) {
  for (std::string_view bad : {std::string_view(""), std::string_view("two words"), std::string_view("a\r\nSet-Cookie: x"),
                               std::string_view("semi;colon"), std::string_view("caf\xc3\xa9")}) {
    const std::string id = request_id(bad);
    EXPECT_NE(id, bad);
    ASSERT_EQ(id.size(), 32u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(is_plain_request_id(id));
  }
  EXPECT_NE(request_id(std::string(129, 'a')), std::string(129, 'a'));
}

TEST(RequestId, GeneratedIdsDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(request_id(""));
  EXPECT_EQ(ids.size(), 1000u);
}

}  // namespace
}  // namespace ragd::server
