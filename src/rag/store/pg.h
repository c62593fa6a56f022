// Thin RAII layer over libpq for the PostgreSQL store: a connection (PgConn) with a cache
// of prepared statements, parameters (PgParams) and results (PgResult). Every failure
// becomes a ragd::Error naming the statement, so callers never check status codes.
//
// Invariants: a PgResult owns its PGresult; parameters are sent separately from the SQL
// text (never spliced in); a connection found broken outside a transaction is reset once
// before the next statement (a restarted server is picked up again), while inside a
// transaction the error surfaces and the caller's StoreTransaction rolls back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace ragd::rag {

class PgParams {
 public:
  PgParams& add(std::string_view text);
  PgParams& add(int64_t value);
  PgParams& add_null();
  // Sent in binary format (bytea).
  PgParams& add_binary(std::span<const std::byte> bytes);
  // A bigint[] or text[] array literal ({1,2,3} / {"a","b"}), elements escaped.
  PgParams& add_int_array(std::span<const int64_t> values);
  PgParams& add_text_array(const std::vector<std::string>& values);

  size_t size() const { return values_.size(); }

 private:
  friend class PgConn;
  std::vector<std::string> values_;
  std::vector<bool> null_, binary_;
};

class PgResult {
 public:
  explicit PgResult(pg_result* r) : r_(r) {}
  PgResult(PgResult&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  PgResult& operator=(PgResult&& o) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;
  ~PgResult();

  int rows() const;
  bool is_null(int row, int col) const;
  // Text-format columns.
  std::string text(int row, int col) const;
  int64_t int64(int row, int col) const;
  double real(int row, int col) const;
  // Binary-format columns (queries run with binary results).
  std::span<const std::byte> bytes(int row, int col) const;
  int64_t int64_binary(int row, int col) const;  // int8, network byte order

 private:
  pg_result* r_ = nullptr;
};

class PgConn {
 public:
  // Connects with a libpq URI (postgres://user@host:port/db?host=/socket/dir …).
  // `label` names the database in errors (the URI without its password).
  PgConn(const std::string& uri, std::string label);
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;
  ~PgConn();

  // Runs one or more statements without parameters (schema scripts, BEGIN, COMMIT).
  void exec_script(std::string_view sql);
  // Runs one statement through a prepared statement cached by its SQL text.
  PgResult exec(const std::string& sql, const PgParams& params = {}, bool binary_result = false);

  bool in_transaction() const;
  // Inside a transaction that a failed statement aborted (COMMIT would only roll back).
  bool transaction_failed() const;
  const std::string& label() const { return label_; }

 private:
  void ensure_connected();
  [[noreturn]] void fail_with(const char* what, std::string_view sql, pg_result* r);
  pg_conn* conn_ = nullptr;
  std::string label_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL → statement name
};

// The URI with any password replaced by "***", for messages and logs.
std::string redact_postgres_uri(const std::string& uri);

}  // namespace ragd::rag
