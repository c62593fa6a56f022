#include "rag/ingest/chunker.h"

#include <fmt/format.h>

#include "util/error.h"

namespace ragd::rag {
namespace {

// Where a chunk may end after a word, weakest to strongest.
enum class Break { Word = 0, Sentence = 1, Paragraph = 2 };

struct Word {
  size_t begin = 0, end = 0;  // byte offsets in the section text
  size_t tokens = 0;
  Break after = Break::Word;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A word ends a sentence if it ends in . ! or ? (possibly followed by closing quotes or
// brackets) and the next word does not start in lower case ("e.g. the" is not a break).
bool ends_sentence(std::string_view word, std::string_view next) {
  size_t i = word.size();
  while (i > 0 && (word[i - 1] == '"' || word[i - 1] == '\'' || word[i - 1] == ')' ||
                   word[i - 1] == ']')) {
    --i;
  }
  if (i == 0) return false;
  char p = word[i - 1];
  if (p != '.' && p != '!' && p != '?') return false;
  return next.empty() || !(next[0] >= 'a' && next[0] <= 'z');
}

std::vector<Word> split_words(std::string_view text, const TokenCounter& count) {
  std::vector<Word> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    if (i >= text.size()) break;
    size_t b = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    words.push_back(Word{b, i, count(text.substr(b, i - b)), Break::Word});
  }
  for (size_t w = 0; w < words.size(); ++w) {
    if (w + 1 == words.size()) {
      words[w].after = Break::Paragraph;
      break;
    }
    std::string_view gap = text.substr(words[w].end, words[w + 1].begin - words[w].end);
    size_t nl = gap.find('\n');
    if (nl != std::string_view::npos && gap.find('\n', nl + 1) != std::string_view::npos) {
      words[w].after = Break::Paragraph;  // a blank line
    } else {
      std::string_view word = text.substr(words[w].begin, words[w].end - words[w].begin);
      std::string_view next = text.substr(words[w + 1].begin, words[w + 1].end - words[w + 1].begin);
      // A line break after a sentence-like end, or before a list item, is a sentence break.
      if (ends_sentence(word, next) || (nl != std::string_view::npos &&
                                        (next[0] == '-' || next[0] == '*' || next[0] == '#'))) {
        words[w].after = Break::Sentence;
      }
    }
  }
  return words;
}

// Picks the end (exclusive) of the chunk starting at `start` whose words fit in `budget`.
// Prefers the strongest break that keeps the chunk at least half full.
size_t choose_end(const std::vector<Word>& words, size_t start, size_t budget) {
  size_t total = 0, end = start;
  while (end < words.size() && total + words[end].tokens <= budget) total += words[end++].tokens;
  if (end == start) return start + 1;  // a single word over budget is kept whole
  if (end == words.size()) return end;
  size_t best[3] = {end, 0, 0};  // latest acceptable end for each Break strength
  size_t running = 0;
  for (size_t w = start; w < end; ++w) {
    running += words[w].tokens;
    if (running * 2 >= total && words[w].after != Break::Word) {
      best[static_cast<int>(words[w].after)] = w + 1;
    }
  }
  if (best[2]) return best[2];
  if (best[1]) return best[1];
  return best[0];
}

// Start of the next chunk: back from `end` by at most `overlap` tokens, snapped forward to
// a sentence start when one lies within the overlap. Always > `start`, so chunking advances.
size_t next_start(const std::vector<Word>& words, size_t start, size_t end, size_t overlap) {
  size_t s = end, tokens = 0;
  while (s > start + 1 && tokens + words[s - 1].tokens <= overlap) tokens += words[--s].tokens;
  for (size_t w = s; w < end; ++w) {
    if (w > 0 && words[w - 1].after != Break::Word) return w;
  }
  return s;
}

}  // namespace

void ChunkerOptions::validate() const {
  if (chunk_tokens < 8) fail("chunk size must be at least 8 tokens (got {})", chunk_tokens);
  if (overlap_tokens * 2 >= chunk_tokens) {
    fail("chunk overlap ({} tokens) must be less than half the chunk size ({} tokens)",
         overlap_tokens, chunk_tokens);
  }
  if (!count_tokens) fail("chunker has no token counter");
}

std::string ChunkerOptions::signature() const {
  return fmt::format("chunker-v1/{}/{}/{}", chunk_tokens, overlap_tokens, counter_name);
}

Chunker::Chunker(ChunkerOptions options) : options_(std::move(options)) { options_.validate(); }

std::vector<Chunk> Chunker::chunk(const Document& doc) const {
  std::vector<Chunk> out;
  for (const auto& section : doc.sections) chunk_section(doc, section, out);
  if (out.empty() && !doc.title.empty()) {
    out.push_back(Chunk{doc.title, "", "", 0});
  }
  return out;
}

void Chunker::chunk_section(const Document& doc, const Section& section,
                            std::vector<Chunk>& out) const {
  std::string_view text = section.text;
  std::vector<Word> words = split_words(text, options_.count_tokens);
  size_t start = 0;
  while (start < words.size()) {
    size_t end = choose_end(words, start, options_.chunk_tokens);
    std::string piece(text.substr(words[start].begin, words[end - 1].end - words[start].begin));
    size_t tokens = options_.count_tokens(piece);
    out.push_back(Chunk{doc.title, section.heading, std::move(piece), tokens});
    if (end >= words.size()) break;
    start = next_start(words, start, end, options_.overlap_tokens);
  }
}

}  // namespace ragd::rag
