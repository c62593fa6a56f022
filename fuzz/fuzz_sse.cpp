// The SSE parser of the load generator's client (server/sse_client.h). Property: how the
// byte stream is cut into reads does not change the events (lines split across reads, CRLF
// split between reads). The first byte of the input picks the read size.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "server/sse_client.h"

namespace {

std::vector<std::string> events(std::string_view stream, size_t chunk) {
  ragd::server::SseParser parser;
  std::vector<std::string> out;
  auto collect = [&](const std::string& data) {
    out.push_back(data);
    return true;
  };
  for (size_t i = 0; i < stream.size(); i += chunk) parser.feed(stream.substr(i, chunk), collect);
  parser.finish(collect);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 17;
  const std::string_view stream = ragd::fuzz::as_text(data + 1, size - 1);
  const auto whole = events(stream, stream.size() + 1);
  RAGD_FUZZ_CHECK(events(stream, chunk) == whole);
  return 0;
}
