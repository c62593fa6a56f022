// Answer-quality metrics, computed as the official SQuAD v1.1 script computes them:
//   normalize: lower-case (ASCII), drop ASCII punctuation, drop the articles a/an/the as
//              whole words, collapse whitespace;
//   exact match: the normalized strings are equal;
//   token F1: over the normalized whitespace tokens, with multiset overlap; 0 when nothing
//             is shared;
// each taken as the best over the gold answers. Two more for RAG answers, which are
// sentences rather than spans:
//   contains: some normalized gold answer occurs in the normalized answer on token
//             boundaries ("1745" is in "born in 1745", not in "17450");
//   strip_citations: the answer without its "[n]" markers, as scored (a marker is not
//             part of what the answer says).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ragd::rag {

std::string normalize_answer(std::string_view text);
double exact_match(std::string_view prediction, std::string_view gold);
double token_f1(std::string_view prediction, std::string_view gold);
double best_exact_match(std::string_view prediction, const std::vector<std::string>& golds);
double best_token_f1(std::string_view prediction, const std::vector<std::string>& golds);
bool contains_answer(std::string_view prediction, const std::vector<std::string>& golds);
std::string strip_citations(std::string_view answer);

}  // namespace ragd::rag
