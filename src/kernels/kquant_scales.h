// The packed 6-bit sub-block scales and mins of Q4_K / Q5_K blocks (GGML's 12-byte layout),
// shared by the kernels that unpack those blocks.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ragd::kernels::detail {

// s: a block's scales[12]; sc[8], m[8]: each sub-block's scale and min (0..63). Bytes 0-3
// hold scales 0-3 and bytes 4-7 mins 0-3 in their low 6 bits; bytes 8-11 hold the low 4
// bits of scales / mins 4-7, whose top 2 bits are the top bits of bytes 0-7.
inline void unpack_k4_scales(const uint8_t* s, uint8_t* sc, uint8_t* m) {
  for (size_t j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = s[j] & 63;
      m[j] = s[j + 4] & 63;
    } else {
      sc[j] = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
      m[j] = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
  }
}

// The inverse of unpack_k4_scales: 8 scales and 8 mins (each 0..63) into GGML's 12 bytes.
// Every bit is used, so unpacking what this packs gives the values back exactly.
inline void pack_k4_scales(const uint8_t* sc, const uint8_t* m, uint8_t* s) {
  for (size_t j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
    s[j + 4] = static_cast<uint8_t>((m[j] & 63) | (m[j + 4] >> 4) << 6);
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
}

}  // namespace ragd::kernels::detail
