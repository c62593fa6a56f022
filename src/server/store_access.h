// The server shares its SQLite store through rag::StoreAccess (rag/store_access.h), which
// moved down a layer so that the answer service in rag/ can use it too.
#pragma once

#include "rag/store/store_access.h"

namespace ragd::server {
using StoreAccess = rag::StoreAccess;
}  // namespace ragd::server
