#include "rag/store/sqlite.h"

#include <sqlite3.h>

#include <utility>

#include "util/error.h"
#include "util/log.h"

namespace ragd::rag {
namespace {

// SQLite's message for a failed call, with the result code's own text added when the
// message hides it: a read error inside FTS5's table constructor reads only "vtable
// constructor failed: fts_1", although the code says "disk I/O error".
std::string error_text(sqlite3* db, int rc) {
  std::string msg = sqlite3_errmsg(db);
  const std::string code = sqlite3_errstr(rc);
  if ((rc & 0xff) != SQLITE_ERROR && msg.find(code) == std::string::npos) msg += " (" + code + ")";
  return msg;
}

}  // namespace

Db Db::open(const std::filesystem::path& file, const std::string& vfs) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           vfs.empty() ? nullptr : vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    fail("cannot open database {}: {}", file.string(), msg);
  }
  Db db(raw, file);
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_extended_result_codes(raw, 1);
  // journal_mode returns a row; exec ignores it. A read-only file system or a non-database
  // file fails here with a clear message.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;");
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_) sqlite3_close_v2(db_);
}

void Db::exec(std::string_view sql) {
  char* err = nullptr;
  std::string s(sql);
  if (int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    sqlite3_free(err);  // the same text as sqlite3_errmsg
    std::string msg = error_text(db_, rc);
    fail("database error in {}: {} (while running: {:.120})", path_.string(), msg, s);
  }
}

Stmt Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    fail("database error in {}: {} (while preparing: {:.120})", path_.string(),
         error_text(db_, rc), sql);
  }
  return Stmt(stmt, db_);
}

int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int Db::changes() const { return sqlite3_changes(db_); }

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), db_(other.db_) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = other.db_;
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

void Stmt::check(int rc, const char* what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  const char* sql = sqlite3_sql(stmt_);
  fail("database error: {} ({} in: {:.120})", sqlite3_errmsg(db_), what, sql ? sql : "?");
}

Stmt& Stmt::bind(int index, int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "bind");
  return *this;
}

Stmt& Stmt::bind(int index, double value) {
  check(sqlite3_bind_double(stmt_, index, value), "bind");
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view value) {
  check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                            SQLITE_UTF8),
        "bind");
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::span<const std::byte> value) {
  check(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT), "bind");
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  check(sqlite3_bind_null(stmt_, index), "bind");
  return *this;
}

bool Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset so that the statement can be reused after the caller handles the error.
  std::string msg = error_text(db_, rc);
  const char* sql = sqlite3_sql(stmt_);
  std::string text = sql ? sql : "?";
  sqlite3_reset(stmt_);
  fail("database error: {} (in: {:.120})", msg, text);
}

void Stmt::run() {
  while (step()) {
  }
  reset();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Stmt::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
int64_t Stmt::int64(int col) const { return sqlite3_column_int64(stmt_, col); }
double Stmt::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Stmt::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::span<const std::byte> Stmt::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  auto n = static_cast<size_t>(sqlite3_column_bytes(stmt_, col));
  if (!p) return {};
  return {static_cast<const std::byte*>(p), n};
}

Transaction::Transaction(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (done_) return;
  try {
    db_.exec("ROLLBACK");
  } catch (const std::exception& e) {
    log::warn("rollback failed: {}", e.what());
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace ragd::rag
