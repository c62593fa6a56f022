#include "server/api_error.h"

namespace ragd::server {

ApiError::ApiError(int status, std::string message, std::string type, std::string param,
                   std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(type.empty() ? error_type_for_status(status) : std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

nlohmann::json ApiError::body() const {
  nlohmann::json e = {{"message", what()},
                      {"type", type_},
                      {"param", param_.empty() ? nlohmann::json() : nlohmann::json(param_)},
                      {"code", code_.empty() ? nlohmann::json() : nlohmann::json(code_)}};
  return {{"error", e}};
}

const char* error_type_for_status(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 405: return "invalid_request_error";
    case 409: return "conflict_error";
    case 413: return "invalid_request_error";
    case 415: return "invalid_request_error";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

ApiError bad_request(std::string message, std::string param) {
  return ApiError(400, std::move(message), "", std::move(param));
}

ApiError not_found(std::string message, std::string param) {
  return ApiError(404, std::move(message), "", std::move(param), "not_found");
}

namespace {

bool path_char(char c) { return c != ' ' && c != '\'' && c != '"' && c != ')' && c != ',' && c != '\n' && c != ';'; }

}  // namespace

std::string redact_paths(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size()) {
    bool starts_token = i == 0 || !path_char(message[i - 1]) || message[i - 1] == '(' || message[i - 1] == '=';
    if (message[i] != '/' || !starts_token || message.substr(i).starts_with("/v1/")) {
      out += message[i++];
      continue;
    }
    size_t end = i;
    while (end < message.size() && path_char(message[end])) ++end;
    std::string_view token = message.substr(i, end - i);
    while (token.size() > 1 && token.back() == '/') token.remove_suffix(1);
    // Only a path with a directory part is a file path; "/health" alone is an endpoint.
    size_t last = token.find_last_of('/');
    out += last == 0 ? token : token.substr(last + 1);
    i = end;
  }
  return out;
}

bool is_storage_error(std::string_view message) {
  return message.starts_with("database error") || message.starts_with("cannot open database");
}

nlohmann::json error_body(int status, const std::string& message, const std::string& param,
                          const std::string& code) {
  return ApiError(status, message, "", param, code).body();
}

}  // namespace ragd::server
