// AMX tile configuration shared by the tile kernels (*_amx.cpp only: it needs -mamx-tile).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ragd::kernels::detail {

// The LDTILECFG memory operand (palette 1).
struct TileConfig {
  uint8_t palette_id = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles 0-7 as 16 rows x 64 bytes each, the shape every operand of the tile kernels has.
// The configuration is per thread; a kernel sets it on entry and releases the tiles on exit.
inline void configure_full_tiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

}  // namespace ragd::kernels::detail
