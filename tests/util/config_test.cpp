#include "util/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "util/error.h"

namespace ragd {
namespace {

TEST(Config, YamlIsFlattenedToDottedKeys) {
  Config c;
  c.load_yaml_string("server:\n  port: 8080\n  host: 127.0.0.1\nretrieval:\n  modes: [bm25, dense]\n");
  EXPECT_EQ(c.get_int("server.port", 0), 8080);
  EXPECT_EQ(c.get_string("server.host", ""), "127.0.0.1");
  EXPECT_EQ(c.get_string("retrieval.modes", ""), "bm25,dense");
  EXPECT_EQ(c.get_int("server.threads", 7), 7);
}

TEST(Config, EnvironmentOverridesFileAndFlagsOverrideEnvironment) {
  Config c;
  c.load_yaml_string("server:\n  port: 8080\n");
  setenv("RAGD_SERVER_PORT", "9090", 1);
  c.load_environment({"server.port"});
  EXPECT_EQ(c.get_int("server.port", 0), 9090);
  c.set("server.port", "7070");
  EXPECT_EQ(c.get_int("server.port", 0), 7070);
  unsetenv("RAGD_SERVER_PORT");
}

TEST(Config, BadValuesNameTheirKeyAndOrigin) {
  Config c;
  c.load_yaml_string("server:\n  port: eighty\n", "ragd.yaml");
  try {
    c.get_int("server.port", 0);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ragd.yaml"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("server.port"), std::string::npos);
  }
  EXPECT_THROW(c.load_yaml_string("a: [1, 2\n"), Error);
  EXPECT_THROW(c.load_yaml_string("- just\n- a list\n"), Error);
  EXPECT_THROW(c.load_yaml_file("/nonexistent/ragd.yaml"), Error);
  c.set("flag", "maybe");
  EXPECT_THROW(c.get_bool("flag", false), Error);
}

TEST(Config, EnvKeyNaming) { EXPECT_EQ(Config::env_key("server.max_batch"), "RAGD_SERVER_MAX_BATCH"); }

}  // namespace
}  // namespace ragd
