#include "server/cors.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "util/error.h"

namespace ragd::server {
namespace {

std::string header(const HeaderList& h, const std::string& name) {
  auto it = std::find_if(h.begin(), h.end(), [&](const auto& kv) { return kv.first == name; });
  return it == h.end() ? "" : it->second;
}

TEST(Cors, NormalizesOrigins) {
  EXPECT_EQ(normalize_origin("HTTP://Example.COM:8443/"), "http://example.com:8443");
  EXPECT_EQ(normalize_origin("https://app.example.org"), "https://app.example.org");
  EXPECT_EQ(normalize_origin("http://[::1]:8080"), "http://[::1]:8080");
  EXPECT_EQ(normalize_origin("http://[::1]"), "http://[::1]");
  EXPECT_EQ(normalize_origin("example.com"), "");
  EXPECT_EQ(normalize_origin("ftp://example.com"), "");
  EXPECT_EQ(normalize_origin("http://example.com/path"), "");
  EXPECT_EQ(normalize_origin("http://example.com:99999"), "");
  EXPECT_EQ(normalize_origin("http://example.com:"), "");
  EXPECT_EQ(normalize_origin("http://"), "");
  EXPECT_EQ(normalize_origin("null"), "");
}

TEST(Cors, RefusesBadConfiguredOriginsByName) {
  try {
    CorsPolicy p({"http://ok.example", "not-an-origin"});
    FAIL() << "accepted a bad origin";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'not-an-origin'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("server.cors_origins"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(CorsPolicy({"", "  "}).enabled());
}

TEST(Cors, DefaultAllowsNoOriginAndAddsNoHeaders) {
  CorsPolicy p;
  EXPECT_FALSE(p.enabled());
  EXPECT_FALSE(p.allows("http://localhost:5173"));
  EXPECT_TRUE(p.response_headers("http://localhost:5173").empty());
  auto pre = p.preflight("http://localhost:5173", "POST", "content-type");
  EXPECT_EQ(pre.status, 403);
  EXPECT_EQ(header(pre.headers, "Access-Control-Allow-Origin"), "");
  EXPECT_NE(pre.error.find("--cors-origin"), std::string::npos) << pre.error;
}

TEST(Cors, ListedOriginsOnly) {
  CorsPolicy p({"http://localhost:5173", "https://App.Example.org/"});
  EXPECT_TRUE(p.allows("http://localhost:5173"));
  EXPECT_TRUE(p.allows("https://app.example.org"));
  EXPECT_FALSE(p.allows("http://localhost:5174"));
  EXPECT_FALSE(p.allows("https://localhost:5173"));
  EXPECT_FALSE(p.allows("http://app.example.org"));
  EXPECT_FALSE(p.allows(""));

  auto ok = p.response_headers("http://localhost:5173");
  EXPECT_EQ(header(ok, "Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_EQ(header(ok, "Vary"), "Origin");
  EXPECT_NE(header(ok, "Access-Control-Expose-Headers").find("Retry-After"), std::string::npos);
  EXPECT_EQ(header(ok, "Access-Control-Allow-Credentials"), "");

  auto other = p.response_headers("http://evil.example");
  EXPECT_EQ(header(other, "Access-Control-Allow-Origin"), "");
  EXPECT_EQ(header(other, "Vary"), "Origin");  // the answer still depends on Origin
}

TEST(Cors, WildcardAllowsEveryOriginWithStar) {
  CorsPolicy p({"*"});
  EXPECT_TRUE(p.allows("http://anything.example:1234"));
  EXPECT_FALSE(p.allows(""));  // no Origin: not a cross-origin browser request
  auto h = p.response_headers("http://anything.example:1234");
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(header(h, "Vary"), "");
}

TEST(Cors, PreflightForAnAllowedOrigin) {
  CorsPolicy p({"http://localhost:5173"});
  auto pre = p.preflight("http://localhost:5173", "POST", "Content-Type, Authorization");
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(header(pre.headers, "Access-Control-Allow-Origin"), "http://localhost:5173");
  EXPECT_NE(header(pre.headers, "Access-Control-Allow-Methods").find("POST"), std::string::npos);
  EXPECT_NE(header(pre.headers, "Access-Control-Allow-Methods").find("DELETE"), std::string::npos);
  EXPECT_NE(header(pre.headers, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  EXPECT_NE(header(pre.headers, "Access-Control-Allow-Headers").find("Content-Type"), std::string::npos);
  EXPECT_FALSE(header(pre.headers, "Access-Control-Max-Age").empty());
}

TEST(Cors, PreflightRefusals) {
  CorsPolicy p({"http://localhost:5173"});
  auto other = p.preflight("http://evil.example", "POST", "");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(header(other.headers, "Access-Control-Allow-Origin"), "");
  EXPECT_NE(other.error.find("http://evil.example"), std::string::npos);

  auto method = p.preflight("http://localhost:5173", "PUT", "");
  EXPECT_EQ(method.status, 403);
  EXPECT_NE(method.error.find("'PUT'"), std::string::npos);

  auto hdr = p.preflight("http://localhost:5173", "POST", "content-type, X-Secret-Thing");
  EXPECT_EQ(hdr.status, 403);
  EXPECT_NE(hdr.error.find("'X-Secret-Thing'"), std::string::npos);

  // A plain OPTIONS (no Origin) is not a preflight: 204 with Allow, no CORS headers.
  auto plain = p.preflight("", "", "");
  EXPECT_EQ(plain.status, 204);
  EXPECT_EQ(header(plain.headers, "Allow"), "GET, POST, DELETE, OPTIONS");
  EXPECT_EQ(header(plain.headers, "Access-Control-Allow-Origin"), "");
}

}  // namespace
}  // namespace ragd::server
