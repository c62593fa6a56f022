// Small hashing helpers shared by layers that key tables on 64-bit hashes.
#pragma once

#include <cstdint>

namespace ragd {

// splitmix64's finaliser: a bijective mixer with full avalanche (every input bit moves
// every output bit), for building hashes from 64-bit words.
constexpr uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

}  // namespace ragd
