// Common prelude of the *_avx512.cpp kernel files (include only from those).
#pragma once

// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics headers (-W[maybe-]uninitialized on the
// _mm512_undefined_* placeholders of cast/convert intrinsics; GCC bug 105593). The
// warning is about the header, not our code, so it is silenced for these files only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <immintrin.h>
