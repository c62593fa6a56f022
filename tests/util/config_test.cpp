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

// The message of the Error `f` throws ("" when it throws none).
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::vector<std::string> kKnown = {"server.host", "server.port", "server.api_keys",
                                         "scheduler.max_concurrent", "models.llm"};

TEST(Config, UnknownKeysAreErrorsNamingTheKeyAndTheClosestKnownOne) {
  Config c;
  c.load_yaml_string("server:\n  prot: 8080\n", "ragd.yaml");
  std::string e = error_of([&] { c.check_known(kKnown); });
  EXPECT_NE(e.find("ragd.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown setting 'server.prot'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'server.port'"), std::string::npos) << e;

  Config section;
  section.load_yaml_string("serverr:\n  port: 8080\n", "ragd.yaml");
  e = error_of([&] { section.check_known(kKnown); });
  EXPECT_NE(e.find("unknown section 'serverr'"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 'server.port'"), std::string::npos) << e;

  Config bare;  // a leaf written at the top level
  bare.load_yaml_string("prot: 8080\n");
  EXPECT_NE(error_of([&] { bare.check_known(kKnown); }).find("did you mean 'server.port'"), std::string::npos);

  Config far;  // nothing close: the known sections are listed instead
  far.load_yaml_string("telemetry:\n  endpoint: x\n");
  e = error_of([&] { far.check_known(kKnown); });
  EXPECT_NE(e.find("unknown section 'telemetry'"), std::string::npos) << e;
  EXPECT_NE(e.find("known sections: models, scheduler, server"), std::string::npos) << e;

  Config nested;  // a value where a leaf belongs
  nested.load_yaml_string("server:\n  port:\n    number: 1\n");
  EXPECT_NE(error_of([&] { nested.check_known(kKnown); }).find("did you mean 'server.port'"), std::string::npos);

  Config scalar_section;
  scalar_section.load_yaml_string("server: 5\n");
  EXPECT_NE(error_of([&] { scalar_section.check_known(kKnown); }).find("'server' is a section"), std::string::npos);
}

TEST(Config, KnownKeysAndEmptySectionsPass) {
  Config c;
  c.load_yaml_string("server:\n  port: 1\n  api_keys: [a, b]\nmodels:\nscheduler:\n  max_concurrent: 4\n");
  EXPECT_NO_THROW(c.check_known(kKnown));
  EXPECT_EQ(Config::closest("server.prot", kKnown), "server.port");
  EXPECT_EQ(Config::closest("completely.different", kKnown), "");
}

TEST(Config, OutOfRangeValuesNameTheKeyAndTheRange) {
  Config c;
  c.load_yaml_string("scheduler:\n  max_concurrent: -5\nserver:\n  port: 70000\n  threads: 8\n", "ragd.yaml");
  std::string e = error_of([&] { c.get_int("scheduler.max_concurrent", 100, 1, 1000000); });
  EXPECT_NE(e.find("ragd.yaml: 'scheduler.max_concurrent' must be between 1 and 1000000, got -5"), std::string::npos)
      << e;
  e = error_of([&] { c.get_int("server.port", 8080, 0, 65535); });
  EXPECT_NE(e.find("'server.port' must be between 0 and 65535, got 70000"), std::string::npos) << e;
  EXPECT_EQ(c.get_int("server.threads", 0, 0, 100), 8);
  EXPECT_EQ(c.get_int("server.missing", 3, 0, 100), 3);

  c.set("cache.semantic_threshold", "-0.5");
  e = error_of([&] { c.get_double("cache.semantic_threshold", 0.95, 0, 2); });
  EXPECT_NE(e.find("'cache.semantic_threshold' must be between 0 and 2"), std::string::npos) << e;
  c.set("cache.nan", "nan");
  EXPECT_THROW(c.get_double("cache.nan", 0, 0, 1), Error);
}

TEST(Config, SizesTakeUnitsAndRefuseNegativeOrHugeValues) {
  Config c;
  EXPECT_EQ(c.get_size("a", "512"), 512u);
  c.set("a", "64MiB");
  EXPECT_EQ(c.get_size("a", "0"), 64u << 20);
  c.set("a", "1.5GiB");
  EXPECT_EQ(c.get_size("a", "0"), 3u << 29);
  c.set("a", "2GB");
  EXPECT_EQ(c.get_size("a", "0"), 2000000000u);
  c.set("a", "256k");
  EXPECT_EQ(c.get_size("a", "0"), 256u << 10);
  for (const char* bad : {"-5", "-5MiB", "", "MiB", "12 parsecs", "1.2.3", "5XB"}) {
    c.set("a", bad, "ragd.yaml");
    std::string e = error_of([&] { c.get_size("a", "0"); });
    EXPECT_NE(e.find("ragd.yaml: 'a' must be a size"), std::string::npos) << bad << ": " << e;
  }
  c.set("a", "100000000GiB");
  EXPECT_NE(error_of([&] { c.get_size("a", "0"); }).find("must be between 0 and"), std::string::npos);
  c.set("a", "1KiB");
  EXPECT_NE(error_of([&] { c.get_size("a", "0", 4096); }).find("must be between 4096 and"), std::string::npos);
}

TEST(Config, EnvKeyNaming) { EXPECT_EQ(Config::env_key("server.max_batch"), "RAGD_SERVER_MAX_BATCH"); }

}  // namespace
}  // namespace ragd
