#include "rag/answer/followup.h"

#include <cctype>
#include <set>
#include <sstream>

namespace ragd::rag {
namespace {

bool refers_back(const std::string& question, size_t& words) {
  static const std::set<std::string> pronouns = {"it",   "its",   "they", "them",  "their", "he",    "him",
                                                 "his",  "she",   "her",  "this",  "that",  "these", "those",
                                                 "there", "then", "one",  "ones"};
  std::istringstream in(question);
  bool found = false;
  words = 0;
  for (std::string w; in >> w;) {
    std::string clean;
    for (char c : w) {
      if (std::isalnum(static_cast<unsigned char>(c))) clean += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (clean.empty()) continue;
    ++words;
    found = found || pronouns.count(clean) > 0;
  }
  return found;
}

}  // namespace

std::string followup_query(const std::vector<model::ChatMessage>& messages) {
  const model::ChatMessage* last = nullptr;
  const model::ChatMessage* previous = nullptr;
  for (const auto& m : messages) {
    if (m.role != "user") continue;
    previous = last;
    last = &m;
  }
  if (!last) return "";
  size_t words = 0;
  const bool pronoun = refers_back(last->content, words);
  if (previous && (pronoun || words < kShortFollowUpWords)) return previous->content + " " + last->content;
  return last->content;
}

}  // namespace ragd::rag
