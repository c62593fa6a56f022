// JSON request parsing (server/request_parsing.h): the body of every generation, embedding
// and RAG endpoint goes through parse_json_body and then the endpoint's parse_* function.
// Each either returns a valid request or throws ApiError(400); any other exception (e.g. a
// JSON library type_error, which would become a 500) is a finding.
//
// Deep nesting (tens of thousands of levels overflowed the stack before util/json_limits.h)
// needs inputs far longer than libFuzzer's default -max_len of 4096, so campaigns cannot
// reach it: fuzz/regressions/json_request/deep-nesting-filters.json covers it in the smoke.
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "server/api_error.h"
#include "server/request_parsing.h"
#include "util/error.h"

using namespace ragd::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json body;
  try {
    body = parse_json_body(ragd::fuzz::as_text(data, size));
  } catch (const ApiError& e) {
    RAGD_FUZZ_CHECK(e.status() == 400);
    return 0;
  }
  GenerationDefaults d;
  auto expect_400 = [](auto&& parse) {
    try {
      parse();
    } catch (const ApiError& e) {
      RAGD_FUZZ_CHECK(e.status() >= 400 && e.status() < 500);
    }
  };
  expect_400([&] {
    ChatRequest r = parse_chat_request(body, d);
    RAGD_FUZZ_CHECK(!r.messages.empty() && r.gen.options.max_tokens <= d.max_tokens_limit);
  });
  expect_400([&] { (void)parse_completion_request(body, d); });
  expect_400([&] { (void)parse_embedding_request(body, 16); });
  expect_400([&] { (void)parse_rag_query(body, d); });
  expect_400([&] { (void)parse_generation_params(body, d); });
  return 0;
}
