// ServiceError: an error a caller of a rag/ use case (retrieval, answering) can cause or
// must be told about, with a kind the entry point maps to its own vocabulary (the server to
// HTTP statuses, the CLI to a message and exit code). The services never know HTTP.
#pragma once

#include <string>

#include "util/error.h"

namespace ragd::rag {

enum class ServiceErrorKind {
  BadRequest,   // the request is invalid (unknown mode, bad filter, wrong embedder)
  NotFound,     // a named collection does not exist
  Unavailable,  // a needed part is not configured (no store, no embedding model)
  Overloaded,   // admission refused: too many requests (retry_after set)
  UserLimit,    // admission refused: this user's cap (retry_after set)
  TooLong,      // the prompt does not fit the model's context
  Failed,       // generation failed or timed out in the queue
};

class ServiceError : public Error {
 public:
  ServiceError(ServiceErrorKind kind, const std::string& message, std::string param = "",
               double retry_after_seconds = 0)
      : Error(message), kind_(kind), param_(std::move(param)), retry_after_(retry_after_seconds) {}
  ServiceErrorKind kind() const { return kind_; }
  const std::string& param() const { return param_; }  // the request field at fault, if any
  double retry_after_seconds() const { return retry_after_; }

 private:
  ServiceErrorKind kind_;
  std::string param_;
  double retry_after_;
};

}  // namespace ragd::rag
