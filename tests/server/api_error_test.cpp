// Error bodies never reveal server paths or SQL: redact_paths() and is_storage_error().
#include "server/api_error.h"

#include <gtest/gtest.h>

namespace ragd::server {
namespace {

TEST(RedactPaths, ShortensFilePathsToTheirName) {
  EXPECT_EQ(redact_paths("cannot open '/srv/models/SmolLM2.gguf': No such file"), "cannot open 'SmolLM2.gguf': No such file");
  EXPECT_EQ(redact_paths("/tmp/ragd-upload-abc123/notes.jsonl: 2 records could not be read"),
            "notes.jsonl: 2 records could not be read");
  EXPECT_EQ(redact_paths("collection 'x' does not exist in /var/lib/ragd/ (collections: a)"),
            "collection 'x' does not exist in ragd (collections: a)");
  EXPECT_EQ(redact_paths("model 'm': file /a/b/c.gguf not found"), "model 'm': file c.gguf not found");
}

TEST(RedactPaths, KeepsEndpointsAndPlainText) {
  EXPECT_EQ(redact_paths("no route for GET /v1/nope; see /v1/models or /health"),
            "no route for GET /v1/nope; see /v1/models or /health");
  EXPECT_EQ(redact_paths("a/b is not a path, 1/2 neither"), "a/b is not a path, 1/2 neither");
  EXPECT_EQ(redact_paths(""), "");
}

TEST(StorageErrors, AreRecognized) {
  EXPECT_TRUE(is_storage_error("database error in /d/ragd.db: disk I/O error (while running: INSERT INTO chunks ...)"));
  EXPECT_TRUE(is_storage_error("cannot open database /d/ragd.db: unable to open"));
  EXPECT_FALSE(is_storage_error("collection 'x' does not exist"));
}

}  // namespace
}  // namespace ragd::server
