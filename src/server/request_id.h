// Request ids: every response carries X-Request-Id, and the access log line names it, so
// one request can be followed from a client through nginx (deploy/nginx/ragd.conf) to the
// replica that answered. A client's (or proxy's) id is kept when it is a plain token;
// anything else is replaced, so an id is always safe to log and to echo in a header.
#pragma once

#include <string>
#include <string_view>

namespace ragd::server {

// The rule nginx's map in deploy/nginx/ragd.conf applies too: 1–128 of [A-Za-z0-9._:-].
bool is_plain_request_id(std::string_view id);

// `from_client` when it is a plain token, else a new id of 32 lowercase hex digits
// (128 random bits; thread-safe).
std::string request_id(std::string_view from_client);

}  // namespace ragd::server
