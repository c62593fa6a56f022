// Content words: the distinct lower-cased alphanumeric words of a text that carry meaning,
// for comparing texts by the words they share (citation spans, question coverage).
#pragma once

#include <set>
#include <string>
#include <string_view>

namespace ragd::rag {

// Distinct lower-cased words (ASCII letters and digits; bytes >= 0x80 count as letters) of
// `text`, with function words and the numbers of "[n]" markers left out.
std::set<std::string> content_words(std::string_view text);

// The number of words of `a` that `b` holds.
size_t shared_words(const std::set<std::string>& a, const std::set<std::string>& b);

}  // namespace ragd::rag
