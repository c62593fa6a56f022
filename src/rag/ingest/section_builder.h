// Shared by the Markdown and HTML parsers: accumulates body text under a stack of headings
// and emits one Section per heading change. Sections with no visible text are dropped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rag/ingest/document.h"

namespace ragd::rag {

class SectionBuilder {
 public:
  // A heading of `level` (1 = outermost) closes the current section and replaces every
  // heading at the same or a deeper level.
  void heading(int level, std::string text);
  void append(std::string_view text) { current_.append(text); }
  std::string& current_text() { return current_; }
  // Moves the sections out; the builder is empty afterwards.
  std::vector<Section> finish();

 private:
  void flush();
  std::string path() const;
  std::vector<std::pair<int, std::string>> stack_;
  std::string current_;
  std::vector<Section> sections_;
};

// Trims ASCII whitespace at both ends.
std::string_view trim(std::string_view s);

}  // namespace ragd::rag
