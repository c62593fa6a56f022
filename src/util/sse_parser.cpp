#include "util/sse_parser.h"

namespace ragd {

bool SseParser::feed(std::string_view bytes, const std::function<bool(const std::string&)>& on_data) {
  size_t start = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != '\n') continue;
    std::string_view piece = bytes.substr(start, i - start);
    start = i + 1;
    bool keep_going;
    if (partial_.empty()) {
      keep_going = line(piece, on_data);
    } else {
      partial_.append(piece);
      std::string whole = std::move(partial_);
      partial_.clear();
      keep_going = line(whole, on_data);
    }
    if (!keep_going) return false;
  }
  partial_.append(bytes.substr(start));
  return true;
}

bool SseParser::finish(const std::function<bool(const std::string&)>& on_data) {
  if (!partial_.empty()) {
    std::string last = std::move(partial_);
    partial_.clear();
    if (!line(last, on_data)) return false;
  }
  return line("", on_data);
}

bool SseParser::line(std::string_view l, const std::function<bool(const std::string&)>& on_data) {
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  if (l.empty()) {  // blank line: dispatch the event
    if (!has_data_) return true;
    std::string data = std::move(data_);
    data_.clear();
    has_data_ = false;
    return on_data(data);
  }
  if (l.front() == ':') return true;  // comment (keep-alive)
  const size_t colon = l.find(':');
  const std::string_view field = l.substr(0, colon);
  if (field != "data") return true;  // event:, id:, retry: carry nothing we need
  std::string_view value = colon == std::string_view::npos ? "" : l.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
  return true;
}

}  // namespace ragd
