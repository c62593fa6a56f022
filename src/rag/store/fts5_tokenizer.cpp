#include "rag/store/fts5_tokenizer.h"

#include <sqlite3.h>

#include <string>
#include <vector>

#include "util/error.h"

namespace ragd::rag {

struct Fts5TextTokenizer::Impl {
  fts5_tokenizer module{};
  ::Fts5Tokenizer* instance = nullptr;
};

namespace {

// The documented way to reach the fts5_api of a connection.
fts5_api* fts5_api_of(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
    sqlite3_step(stmt);
  }
  sqlite3_finalize(stmt);
  return api;
}

std::vector<std::string> split_spec(std::string_view spec) {
  std::vector<std::string> words;
  std::string cur;
  for (char c : spec) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) words.push_back(std::move(cur));
      cur.clear();
    } else if (c == '\'' || c == '"' || c == '`' || c == '[') {
      fail("unsupported FTS5 tokenizer spec '{}' (quoted arguments)", spec);
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  if (words.empty()) fail("empty FTS5 tokenizer spec");
  return words;
}

struct CallbackContext {
  const std::function<void(std::string_view, bool)>* fn;
};

int on_token(void* ctx, int flags, const char* token, int n, int, int) {
  const auto* c = static_cast<CallbackContext*>(ctx);
  (*c->fn)(std::string_view(token, static_cast<size_t>(n)), (flags & FTS5_TOKEN_COLOCATED) != 0);
  return SQLITE_OK;
}

}  // namespace

Fts5TextTokenizer::Fts5TextTokenizer(Db& db, std::string_view spec) : impl_(std::make_unique<Impl>()) {
  std::vector<std::string> words = split_spec(spec);
  fts5_api* api = fts5_api_of(db.handle());
  if (!api) {
    fail("this SQLite build has no FTS5");
  }
  void* user_data = nullptr;
  if (api->xFindTokenizer(api, words[0].c_str(), &user_data, &impl_->module) != SQLITE_OK) {
    fail("FTS5 tokenizer '{}' not found", words[0]);
  }
  std::vector<const char*> args;
  for (size_t i = 1; i < words.size(); ++i) args.push_back(words[i].c_str());
  if (impl_->module.xCreate(user_data, args.data(), static_cast<int>(args.size()), &impl_->instance) !=
      SQLITE_OK) {
    fail("cannot create FTS5 tokenizer '{}'", spec);
  }
}

Fts5TextTokenizer::~Fts5TextTokenizer() {
  if (impl_->instance) impl_->module.xDelete(impl_->instance);
}

void Fts5TextTokenizer::tokenize(std::string_view text, Purpose purpose,
                                 const std::function<void(std::string_view, bool)>& fn) {
  if (text.empty()) return;
  CallbackContext ctx{&fn};
  int flags = purpose == Purpose::Query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT;
  int rc = impl_->module.xTokenize(impl_->instance, &ctx, flags, text.data(),
                                   static_cast<int>(text.size()), on_token);
  if (rc != SQLITE_OK) fail("FTS5 tokenizer failed: {}", sqlite3_errstr(rc));
}

}  // namespace ragd::rag
