// A parsed input document, before chunking. Parsers (document_reader.h) produce these from
// files; the chunker turns them into chunks; the store keeps both.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ragd::rag {

// A run of body text under one heading. `heading` is the path of headings above the text,
// outermost first, joined with " > " (e.g. "Install > Linux"); empty before any heading.
struct Section {
  std::string heading;
  std::string text;
};

struct Document {
  // Unique within a collection: the absolute path for a file, the record id for JSONL.
  std::string external_id;
  std::string title;
  std::vector<Section> sections;
  // A JSON object; searchable with metadata filters (key=value).
  nlohmann::json metadata = nlohmann::json::object();

  bool empty() const {
    if (!title.empty()) return false;
    for (const auto& s : sections) {
      if (s.text.find_first_not_of(" \t\r\n") != std::string::npos) return false;
    }
    return true;
  }
};

}  // namespace ragd::rag
