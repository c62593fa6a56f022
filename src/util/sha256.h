// Sha256: incremental SHA-256 (OpenSSL's libcrypto), for checking downloaded model files
// against their pinned digests while they stream in.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ragd {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const uint8_t> bytes);
  void update(std::string_view text);
  // The digest as 64 lowercase hex digits. Ends the computation: update() after it throws.
  std::string hex_digest();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256 of a whole file as lowercase hex; throws ragd::Error when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace ragd
