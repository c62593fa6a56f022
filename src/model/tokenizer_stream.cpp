// StreamingDetokenizer (declared in tokenizer.h).
#include "model/tokenizer.h"
#include "model/tokenizer_unicode.h"

namespace ragd::model {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool render_special,
                                           bool strip_leading_space)
    : tokenizer_(tokenizer), render_special_(render_special), strip_pending_(strip_leading_space) {}

std::string StreamingDetokenizer::push(int32_t id) {
  const std::string& piece = tokenizer_.token_to_piece(id, render_special_);
  if (piece.empty()) return {};
  if (strip_pending_) {
    strip_pending_ = false;
    const bool text_token = !tokenizer_.is_control(id) && tokenizer_.token_type(id) != TokenType::Unknown;
    pending_.append(piece, (text_token && piece[0] == ' ') ? 1 : 0);
  } else {
    pending_ += piece;
  }
  // Invariant: pending_ holds at most the 1-3 bytes of one unfinished UTF-8 sequence between
  // calls; everything before it is released now.
  const size_t keep = unicode::incomplete_utf8_tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - keep);
  std::string out = unicode::valid_utf8_prefix(ready) == ready.size() ? std::string(ready)
                                                                      : unicode::sanitize_utf8(ready);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out = unicode::sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace ragd::model
