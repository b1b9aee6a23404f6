// kernels/cpu/simd/exp.h
// exp(x) on a whole vector, for softmax (attention, cross-entropy) and GELU. Included by the
// *_impl.h files of each SIMD level (see vec.h for why everything is static inline).
//
// Method: exp(x) = 2^n * e^r with n = round(x / ln 2) and r = x - n ln 2 in [-ln2/2, ln2/2]:
//  - x is first clamped to [kExpLo, kExpHi] with max/min ordered so that a NaN passes through;
//  - n by the 1.5*2^23 trick (adding it leaves round(x log2 e) in the low mantissa bits, so the
//    float n and its integer bits come without a conversion instruction);
//  - r by Cody-Waite: ln 2 split into a 16-bit head (n * head is exact for |n| <= 128) and a tail;
//  - e^r by its degree-7 Taylor polynomial (Horner); the truncation error is at most
//    (ln2/2)^8 / 8! / e^(-ln2/2) < 7.6e-9 relative, well under float rounding;
//  - 2^n built in the exponent field as 2^(n-1) * 2: n = 128 (x near ln FLT_MAX) stays
//    representable until the last, exact, doubling, which overflows to +inf when e^x does; and
//    n = -126 gives the bit pattern 0, so far-negative x (and -inf) come out exactly 0 with no
//    extra select.
// Error bound (table.h: kExpMaxRelError, kExpRelDomainLo, kExpMaxAbsErrorBelow): relative error
// <= 2^-22 (about 2.4e-7, two float ulps) for -86.6 <= x <= ln FLT_MAX (the Horner steps round a few
// times; measured max 9.5e-8). Below -86.6 (n = -126 at x < -86.99) the result may be 0 where the
// true value is < 2^-125 ~ 2.4e-38: absolute error below that. Above ln FLT_MAX +inf; exp(NaN) =
// NaN, exp(-inf) = 0, exp(+inf) = +inf. tests/kernels/test_simd.cpp checks this against fp64 on a
// dense sweep of [-88, 88.72] at every level.
#pragma once

#include "kernels/cpu/simd/vec.h"

namespace kernels::cpu::simd::KILN_SIMD_NS {

constexpr float kExpLo = -87.33654f;  // -126 ln 2: n >= -126
constexpr float kExpHi = 89.0f;       // n <= round(89 / ln 2) = 128

static inline vf vexp(vf x) {
  const vf magic = splat(12582912.0f);                        // 1.5 * 2^23
  const vf xc = vmin(splat(kExpHi), vmax(splat(kExpLo), x));  // NaN stays NaN (vec.h: b comes out)
  const vf t = xc * splat(1.44269504088896341f) + magic;      // round(x log2 e) + magic
  const vf n = t - magic;
  const vi ni = bits(t) - bits(magic);            // the same n as an integer
  vf r = xc - n * splat(0.693145751953125f);      // ln 2 head: 0x3f317200, exact products
  r = r - n * splat(1.42860682030941723212e-6f);  // ln 2 tail
  vf p = splat(1.0f / 5040.0f);
  p = p * r + splat(1.0f / 720.0f);
  p = p * r + splat(1.0f / 120.0f);
  p = p * r + splat(1.0f / 24.0f);
  p = p * r + splat(1.0f / 6.0f);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.0f);
  p = p * r + splat(1.0f);
  const vf half_scale = from_bits((ni + 126) << 23);  // 2^(n-1); bit pattern 0 (= 0.0f) at n = -126
  return p * half_scale * splat(2.0f);
}

}  // namespace kernels::cpu::simd::KILN_SIMD_NS
