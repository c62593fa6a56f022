#include "rag/ingest/section_builder.h"

namespace ragd::rag {

std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

void SectionBuilder::heading(int level, std::string text) {
  flush();
  while (!stack_.empty() && stack_.back().first >= level) stack_.pop_back();
  stack_.emplace_back(level, std::move(text));
}

std::vector<Section> SectionBuilder::finish() {
  flush();
  stack_.clear();
  return std::move(sections_);
}

void SectionBuilder::flush() {
  std::string_view body = trim(current_);
  if (!body.empty()) sections_.push_back(Section{path(), std::string(body)});
  current_.clear();
}

std::string SectionBuilder::path() const {
  std::string out;
  for (const auto& [level, text] : stack_) {
    if (text.empty()) continue;
    if (!out.empty()) out += " > ";
    out += text;
  }
  return out;
}

}  // namespace ragd::rag
