// Run-time CPU feature detection for kernel dispatch. Files compiled with AVX2/AVX-512
// flags (*_avx2.cpp, *_avx512.cpp) may only be entered after these say the CPU has them.
#pragma once

#include "kernels/matmul.h"

namespace ragd::kernels {

// Avx2 means AVX2 + FMA + F16C; Avx512 additionally AVX-512 F/BW/VL/DQ + VNNI; Amx
// additionally AVX512_BF16 and AMX-TILE + AMX-BF16 with the OS's permission granted (the
// first call asks Linux for it).
Isa detect_isa();
// True if this CPU also has AVX512_BF16 (only meaningful when detect_isa() == Avx512).
bool has_avx512_bf16();

}  // namespace ragd::kernels
