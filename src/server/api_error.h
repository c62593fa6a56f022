// ApiError: an error a client caused (or an overload it must back off from), in the shape
// OpenAI clients understand:
//   HTTP <status>  {"error": {"message": "...", "type": "...", "param": ..., "code": ...}}
// Route handlers throw ApiError; the server's handler wrapper (http_server.cpp) turns it
// into the response, so a malformed request always gets a 4xx with a clear message and
// never reaches code that could crash. ragd::Error thrown below the server layer (unknown
// collection, bad metadata filter, ...) is a client error too and becomes a 400.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace ragd::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "", std::string param = "",
           std::string code = "");

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  // Seconds for a Retry-After header (503 / 429); 0: none.
  double retry_after() const { return retry_after_; }
  ApiError& with_retry_after(double seconds) {
    retry_after_ = seconds;
    return *this;
  }

  nlohmann::json body() const;

 private:
  int status_;
  std::string type_, param_, code_;
  double retry_after_ = 0;
};

// The OpenAI error type for an HTTP status ("invalid_request_error", "authentication_error",
// "not_found_error", "rate_limit_error", "server_error", ...).
const char* error_type_for_status(int status);

// Shorthands for the common cases; `param` names the offending request field.
ApiError bad_request(std::string message, std::string param = "");
ApiError not_found(std::string message, std::string param = "");

// Error bodies never reveal the server's files or SQL. redact_paths() shortens every
// absolute file path in a message to its file name ("cannot open '/srv/m/x.gguf'" →
// "cannot open 'x.gguf'"); API paths (/v1/...) are kept. is_storage_error() says whether
// a message comes from the SQLite layer ("database error: ... (in: SELECT ...)"): such
// errors are the server's, answered 500 with a generic message and logged in full.
std::string redact_paths(std::string_view message);
bool is_storage_error(std::string_view message);

// {"error": {...}} for a status and message (used where no ApiError object exists).
nlohmann::json error_body(int status, const std::string& message, const std::string& param = "",
                          const std::string& code = "");

}  // namespace ragd::server
