#include "rag/store/pg.h"

#include <libpq-fe.h>

#include <cstring>
#include <regex>

#include "util/error.h"

namespace ragd::rag {
namespace {

// Quotes an array element: "..." with '"' and '\' escaped, so any text round-trips.
std::string quote_element(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

void ignore_notice(void*, const char*) {}

std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string redact_postgres_uri(const std::string& uri) {
  // user:password@ in the authority, and password=… among the parameters.
  static const std::regex auth(R"(^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@)");
  static const std::regex param(R"(([?&]password=)[^&]*)");
  std::string out = std::regex_replace(uri, auth, "$1:***@");
  return std::regex_replace(out, param, "$1***");
}

PgParams& PgParams::add(std::string_view text) {
  values_.emplace_back(text);
  null_.push_back(false);
  binary_.push_back(false);
  return *this;
}

PgParams& PgParams::add(int64_t value) { return add(std::to_string(value)); }

PgParams& PgParams::add_null() {
  values_.emplace_back();
  null_.push_back(true);
  binary_.push_back(false);
  return *this;
}

PgParams& PgParams::add_binary(std::span<const std::byte> bytes) {
  values_.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  null_.push_back(false);
  binary_.push_back(true);
  return *this;
}

PgParams& PgParams::add_int_array(std::span<const int64_t> values) {
  std::string s = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(values[i]);
  }
  s += '}';
  return add(s);
}

PgParams& PgParams::add_text_array(const std::vector<std::string>& values) {
  std::string s = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) s += ',';
    s += quote_element(values[i]);
  }
  s += '}';
  return add(s);
}

PgResult& PgResult::operator=(PgResult&& o) noexcept {
  if (this != &o) {
    if (r_) PQclear(r_);
    r_ = o.r_;
    o.r_ = nullptr;
  }
  return *this;
}

PgResult::~PgResult() {
  if (r_) PQclear(r_);
}

int PgResult::rows() const { return PQntuples(r_); }
bool PgResult::is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }

std::string PgResult::text(int row, int col) const {
  return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
}

int64_t PgResult::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::stoll(PQgetvalue(r_, row, col));
}

double PgResult::real(int row, int col) const {
  if (is_null(row, col)) return 0;
  return std::stod(PQgetvalue(r_, row, col));
}

std::span<const std::byte> PgResult::bytes(int row, int col) const {
  return {reinterpret_cast<const std::byte*>(PQgetvalue(r_, row, col)),
          static_cast<size_t>(PQgetlength(r_, row, col))};
}

int64_t PgResult::int64_binary(int row, int col) const {
  auto b = bytes(row, col);
  if (b.size() != 8) fail("PostgreSQL returned a {}-byte bigint", b.size());
  uint64_t v = 0;
  for (std::byte x : b) v = (v << 8) | static_cast<uint8_t>(x);
  return static_cast<int64_t>(v);
}

PgConn::PgConn(const std::string& uri, std::string label) : label_(std::move(label)) {
  conn_ = PQconnectdb(uri.c_str());
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string msg = conn_ ? trimmed(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    fail("cannot connect to PostgreSQL at {}: {}", label_, msg);
  }
  // Notices (e.g. "text-search query contains only stop words") are expected, not news.
  PQsetNoticeProcessor(conn_, ignore_notice, nullptr);
}

PgConn::~PgConn() {
  if (conn_) PQfinish(conn_);
}

void PgConn::ensure_connected() {
  if (PQstatus(conn_) == CONNECTION_OK) return;
  PQreset(conn_);
  prepared_.clear();  // prepared statements die with the server session
  if (PQstatus(conn_) != CONNECTION_OK) {
    fail("lost the connection to PostgreSQL at {}: {}", label_, trimmed(PQerrorMessage(conn_)));
  }
}

bool PgConn::in_transaction() const {
  auto s = PQtransactionStatus(conn_);
  return s == PQTRANS_INTRANS || s == PQTRANS_INERROR || s == PQTRANS_ACTIVE;
}

bool PgConn::transaction_failed() const { return PQtransactionStatus(conn_) == PQTRANS_INERROR; }

void PgConn::fail_with(const char* what, std::string_view sql, pg_result* r) {
  std::string msg = trimmed(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  if (msg.empty()) msg = trimmed(PQerrorMessage(conn_));
  if (r) PQclear(r);
  std::string shown(sql.substr(0, 120));
  fail("PostgreSQL at {}: {} failed: {} (in: {}{})", label_, what, msg, shown, sql.size() > 120 ? "…" : "");
}

void PgConn::exec_script(std::string_view sql) {
  if (!in_transaction()) ensure_connected();
  std::string s(sql);
  pg_result* r = PQexec(conn_, s.c_str());
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail_with("statement", sql, r);
  PQclear(r);
}

PgResult PgConn::exec(const std::string& sql, const PgParams& params, bool binary_result) {
  if (!in_transaction()) ensure_connected();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "ragd_" + std::to_string(prepared_.size());
    pg_result* r = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) fail_with("prepare", sql, r);
    PQclear(r);
    it = prepared_.emplace(sql, name).first;
  }
  const size_t n = params.values_.size();
  std::vector<const char*> values(n);
  std::vector<int> lengths(n), formats(n);
  for (size_t i = 0; i < n; ++i) {
    values[i] = params.null_[i] ? nullptr : params.values_[i].data();
    lengths[i] = static_cast<int>(params.values_[i].size());
    formats[i] = params.binary_[i] ? 1 : 0;
  }
  pg_result* r = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(n), values.data(), lengths.data(),
                                formats.data(), binary_result ? 1 : 0);
  auto st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail_with("query", sql, r);
  return PgResult(r);
}

}  // namespace ragd::rag
