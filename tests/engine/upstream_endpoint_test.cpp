// UpstreamEndpoint parsing: the NAME=URL[#ID] values of ragd serve --model.
#include "engine/upstream_endpoint.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace ragd::engine {
namespace {

TEST(UpstreamEndpoint, SplitsOriginPathAndModelId) {
  auto e = parse_upstream_endpoint("http://127.0.0.1:8000/v1#Qwen/Qwen2.5-7B-Instruct");
  EXPECT_EQ(e.origin, "http://127.0.0.1:8000");
  EXPECT_EQ(e.base_path, "/v1");
  EXPECT_EQ(e.model_id, "Qwen/Qwen2.5-7B-Instruct");
  EXPECT_EQ(e.url, "http://127.0.0.1:8000/v1");
}

TEST(UpstreamEndpoint, PathIsOptionalAndLosesTrailingSlashes) {
  auto bare = parse_upstream_endpoint("http://gpu1:8080");
  EXPECT_EQ(bare.origin, "http://gpu1:8080");
  EXPECT_EQ(bare.base_path, "");
  EXPECT_EQ(bare.model_id, "");
  auto slash = parse_upstream_endpoint("https://api.example.com/openai/v1/");
  EXPECT_EQ(slash.origin, "https://api.example.com");
  EXPECT_EQ(slash.base_path, "/openai/v1");
  EXPECT_EQ(slash.url, "https://api.example.com/openai/v1");
}

TEST(UpstreamEndpoint, Ipv6LiteralKeepsItsColons) {
  auto e = parse_upstream_endpoint("http://[::1]:9000/v1");
  EXPECT_EQ(e.origin, "http://[::1]:9000");
  EXPECT_EQ(e.base_path, "/v1");
  EXPECT_EQ(parse_upstream_endpoint("http://[::1]/v1").origin, "http://[::1]");
}

TEST(UpstreamEndpoint, RecognizesOnlyHttpSchemes) {
  EXPECT_TRUE(is_upstream_url("http://x"));
  EXPECT_TRUE(is_upstream_url("https://x"));
  EXPECT_FALSE(is_upstream_url("models/x.gguf"));
  EXPECT_FALSE(is_upstream_url("ftp://x"));
  EXPECT_FALSE(is_upstream_url("httpx"));
}

TEST(UpstreamEndpoint, RefusesMalformedValuesWithTheExpectedForm) {
  for (const char* bad : {"ftp://host/v1", "http://", "http:///v1", "http://host:0/v1", "http://host:65536",
                          "http://host:80x/v1", "http://host:/v1", "http://host/v1#", "http://host/v1?key=1",
                          "http://user:pw@host/v1"}) {
    try {
      parse_upstream_endpoint(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected http://HOST[:PORT][/PATH][#MODEL-ID]"), std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace ragd::engine
