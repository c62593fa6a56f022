#include "server/auth.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "server/api_error.h"
#include "util/error.h"

namespace ragd::server {
namespace {

httplib::Request request(const std::string& method, const std::string& path, const std::string& bearer = "") {
  httplib::Request req;
  req.method = method;
  req.path = path;
  if (!bearer.empty()) req.headers.emplace("Authorization", "Bearer " + bearer);
  return req;
}

// The status and message of the ApiError that `authenticate` throws (0 when it passes).
std::pair<int, std::string> outcome(const KeyRing& keys, const httplib::Request& req, Scope required) {
  try {
    authenticate(keys, req, required);
  } catch (const ApiError& e) {
    return {e.status(), e.what()};
  }
  return {0, ""};
}

KeyRing sample_ring() {
  KeyRing keys;
  keys.load_text(
      "# team keys\n"
      "admin-secret-1\n"
      "\n"
      "query-secret-2 query\n"
      "   limited-secret-3  query  collections=team-a,shared\r\n"
      "admin-limited-4 scope=admin collections=team-b\n",
      "keys.txt");
  return keys;
}

TEST(Auth, KeyFileLinesGiveScopeAndCollections) {
  KeyRing keys = sample_ring();
  ASSERT_EQ(keys.size(), 4u);
  const ApiKey* admin = keys.find("admin-secret-1");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->scope, Scope::Admin);
  EXPECT_TRUE(admin->collections.empty());
  EXPECT_EQ(admin->origin, "keys.txt:2");
  const ApiKey* limited = keys.find("limited-secret-3");
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ(limited->scope, Scope::Query);
  EXPECT_EQ(limited->collections, (std::vector<std::string>{"team-a", "shared"}));
  EXPECT_TRUE(limited->allows_collection("shared"));
  EXPECT_FALSE(limited->allows_collection("team-b"));
  EXPECT_EQ(keys.find("admin-limited-4")->scope, Scope::Admin);
  EXPECT_EQ(keys.find("admin-secret"), nullptr);    // a prefix is not the key
  EXPECT_EQ(keys.find("admin-secret-10"), nullptr);  // nor is a longer string
  EXPECT_EQ(keys.find(""), nullptr);
}

TEST(Auth, BadKeyLinesNameTheLineAndNeverTheSecret) {
  for (const char* text : {"s3cret-value bogus\n", "s3cret-value query admin\n", "s3cret-value collections=\n",
                           "s3cret-value collections=a,,b\n", "s3cret-value collections=a collections=b\n"}) {
    KeyRing keys;
    try {
      keys.load_text(std::string("# header\n") + text, "keys.txt");
      FAIL() << "accepted: " << text;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("keys.txt:2"), std::string::npos) << m;
      EXPECT_EQ(m.find("s3cret"), std::string::npos) << m;
    }
  }
  KeyRing dup;
  dup.add({"same-key", Scope::Admin, {}, "--api-key #1"});
  try {
    dup.add({"same-key", Scope::Query, {}, "keys.txt:4"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--api-key #1"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("same-key"), std::string::npos);
  }
  KeyRing bad;
  EXPECT_THROW(bad.add({"", Scope::Admin, {}, "x"}), Error);
  EXPECT_THROW(bad.add({"has space", Scope::Admin, {}, "x"}), Error);
  EXPECT_THROW(bad.add({"public-key", Scope::Public, {}, "x"}), Error);
}

TEST(Auth, KeyFilesAreReadAndAnEmptyOneIsAnError) {
  std::string path = ::testing::TempDir() + "ragd-auth-test-keys.txt";
  {
    std::ofstream(path) << "file-admin-key\nfile-query-key query\n";
  }
  KeyRing keys;
  keys.load_file(path);
  EXPECT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys.find("file-query-key")->origin, path + ":2");
  {
    std::ofstream(path) << "# nothing here\n\n";
  }
  KeyRing empty;
  EXPECT_THROW(empty.load_file(path), Error);
  std::remove(path.c_str());
  EXPECT_THROW(empty.load_file(path), Error);
}

TEST(Auth, ScopesDecideWhichRoutesAKeyMayCall) {
  KeyRing keys = sample_ring();
  auto ask = request("POST", "/v1/rag/query", "query-secret-2");
  EXPECT_EQ(outcome(keys, ask, Scope::Query).first, 0);
  auto upload = request("POST", "/v1/collections/docs/documents", "query-secret-2");
  auto [status, message] = outcome(keys, upload, Scope::Admin);
  EXPECT_EQ(status, 403);
  EXPECT_NE(message.find("scope 'query'"), std::string::npos) << message;
  EXPECT_EQ(message.find("query-secret-2"), std::string::npos) << message;
  upload = request("POST", "/v1/collections/docs/documents", "admin-secret-1");
  EXPECT_EQ(outcome(keys, upload, Scope::Admin).first, 0);
  EXPECT_EQ(authenticate(keys, upload, Scope::Admin), keys.find("admin-secret-1"));
}

TEST(Auth, MissingOrWrongKeysGet401WithoutEchoingThem) {
  KeyRing keys = sample_ring();
  EXPECT_EQ(outcome(keys, request("GET", "/v1/models"), Scope::Query).first, 401);
  auto [status, message] = outcome(keys, request("GET", "/v1/models", "guessed-key-xyz"), Scope::Query);
  EXPECT_EQ(status, 401);
  EXPECT_EQ(message.find("guessed-key-xyz"), std::string::npos) << message;
  httplib::Request x_api_key = request("GET", "/metrics");
  x_api_key.headers.emplace("X-API-Key", "query-secret-2");
  EXPECT_EQ(outcome(keys, x_api_key, Scope::Query).first, 0);
  httplib::Request lower = request("GET", "/metrics");
  lower.headers.emplace("Authorization", "bearer query-secret-2");  // the scheme is case-insensitive
  EXPECT_EQ(outcome(keys, lower, Scope::Query).first, 0);
  // Public routes and servers without keys need nothing.
  EXPECT_EQ(authenticate(keys, request("GET", "/health"), Scope::Public), nullptr);
  EXPECT_EQ(authenticate(KeyRing{}, request("POST", "/v1/cache"), Scope::Admin), nullptr);
}

TEST(Auth, CollectionLimitsApplyToPathsAndNamedCollections) {
  KeyRing keys = sample_ring();
  EXPECT_EQ(outcome(keys, request("GET", "/v1/collections/team-a/documents", "limited-secret-3"), Scope::Query).first, 0);
  auto [status, message] =
      outcome(keys, request("GET", "/v1/collections/team-b/documents/7", "limited-secret-3"), Scope::Query);
  EXPECT_EQ(status, 403);
  EXPECT_NE(message.find("collection 'team-b'"), std::string::npos) << message;
  EXPECT_NE(message.find("team-a, shared"), std::string::npos) << message;
  // Listing routes name no collection.
  EXPECT_EQ(outcome(keys, request("GET", "/v1/collections", "limited-secret-3"), Scope::Query).first, 0);
  const ApiKey* limited = keys.find("limited-secret-3");
  EXPECT_NO_THROW(require_collection(limited, "shared"));
  EXPECT_THROW(require_collection(limited, "default"), ApiError);
  EXPECT_NO_THROW(require_collection(keys.find("admin-secret-1"), "default"));
  EXPECT_NO_THROW(require_collection(nullptr, "default"));
}

TEST(Auth, PathCollection) {
  EXPECT_EQ(path_collection("/v1/collections/docs"), "docs");
  EXPECT_EQ(path_collection("/v1/collections/docs/documents/12"), "docs");
  EXPECT_EQ(path_collection("/v1/collections"), "");
  EXPECT_EQ(path_collection("/v1/collections/"), "");
  EXPECT_EQ(path_collection("/v1/rag/query"), "");
}

}  // namespace
}  // namespace ragd::server
