// SseParser: splits a Server-Sent Events byte stream into its "data:" payloads, for every
// SSE client in ragd (the load generator's, server/sse_client.h, and the upstream model's,
// engine/upstream_model.h).
//
// Handles lines split across reads and CRLF; ignores comments (": keep-alive"), other
// fields (event:, id:, retry:) and blank lines without data. A payload spanning several data
// lines of one event is joined with '\n', per the SSE spec.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace ragd {

class SseParser {
 public:
  // Calls on_data for every complete event's data; stops early (returns false) when it
  // returns false.
  bool feed(std::string_view bytes, const std::function<bool(const std::string&)>& on_data);
  // Flushes an event not terminated by a blank line (end of stream).
  bool finish(const std::function<bool(const std::string&)>& on_data);

 private:
  bool line(std::string_view line, const std::function<bool(const std::string&)>& on_data);
  std::string partial_;  // bytes of an incomplete line
  std::string data_;     // data lines of the current event
  bool has_data_ = false;
};

}  // namespace ragd
