// Single-gate cells over time: Elman  h' = phi(P + W h)  and IndRNN  h' = phi(P + u * h)  (u diagonal),
// phi = tanh or relu, with variational dropout, zoneout and lengths; forward and BPTT backward.
#pragma once
#include "common.h"

namespace rnnkit {

template <typename T>
inline T phi(T x, bool relu) { return relu ? (x > T(0) ? x : T(0)) : k_tanh(x); }

template <typename T>
inline T phi_grad_from_output(T y, bool relu) { return relu ? (y > T(0) ? T(1) : T(0)) : T(1) - y * y; }

template <typename T>
std::vector<at::Tensor> simple_forward_t(const at::Tensor& P, const at::Tensor& h0, const at::Tensor& W, bool relu,
                                         const StepOptions<T>& o, bool save) {
  const int64_t steps = P.size(0), B = P.size(1), H = P.size(2);
  const bool diagonal = W.dim() == 1;
  const int64_t keep = save ? steps : 1;
  auto out = workspace({steps, B, H}, P.options());
  auto h = h0.clone(at::MemoryFormat::Contiguous);
  auto hread = workspace({keep, B, H}, P.options());
  auto act = workspace({keep, B, H}, P.options());  // phi(pre), before zoneout
  const T* p = P.data_ptr<T>();
  const T* w = W.data_ptr<T>();
  T* hp = h.data_ptr<T>();
  T* outp = out.data_ptr<T>();
  const StepMatmul<T> recurrent_product(w, diagonal ? 0 : B, H, H, /*nt=*/true);
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t s = save ? t : 0;
    T* hr = hread.data_ptr<T>() + s * B * H;
    T* a = act.data_ptr<T>() + s * B * H;
    const T* pt = p + t * B * H;
    o.read_state(hr, hp);
    if (diagonal) {
      for (int64_t b = 0; b < B; ++b) {
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) a[b * H + j] = pt[b * H + j] + w[j] * hr[b * H + j];
      }
    } else {
      std::memcpy(a, pt, sizeof(T) * B * H);
      recurrent_product(a, hr, T(1));
    }
    for (int64_t b = 0; b < B; ++b) {
      T* orow = outp + (t * B + b) * H;
      if (!o.valid(t, b)) {
        std::memset(orow, 0, sizeof(T) * H);
        continue;
      }
      T* ab = a + b * H;
      T* hb = hp + b * H;
      const T* zh = o.zone_row(0, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T y = phi(ab[j], relu);
        ab[j] = y;
        const T d = zh[j];
        const T hv = d * hb[j] + (T(1) - d) * y;  // exact for masks of 0 and 1
        hb[j] = hv;
        orow[j] = hv;
      }
    }
  }
  return {out, h, hread, act};
}

template <typename T>
std::vector<at::Tensor> simple_backward_t(const at::Tensor& grad_out, const at::Tensor& grad_h, const at::Tensor& W,
                                          bool relu, const StepOptions<T>& o, const at::Tensor& hread,
                                          const at::Tensor& act) {
  const int64_t steps = act.size(0), B = act.size(1), H = act.size(2);
  const bool diagonal = W.dim() == 1;
  auto dP = workspace({steps, B, H}, act.options());
  auto dh = grad_h.clone(at::MemoryFormat::Contiguous);
  auto dhread = at::empty({B, H}, act.options());
  auto du = diagonal ? at::zeros({H}, act.options()) : nothing(act);
  const T* gop = grad_out.data_ptr<T>();
  const T* w = W.data_ptr<T>();
  T* dhp = dh.data_ptr<T>();
  T* dhr = dhread.data_ptr<T>();
  const StepMatmul<T> back_product(w, diagonal ? 0 : B, H, H, /*nt=*/false);
  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = t * B + b;
      T* dpr = dP.data_ptr<T>() + row * H;
      if (!o.valid(t, b)) {
        std::memset(dpr, 0, sizeof(T) * H);
        std::memset(dhr + b * H, 0, sizeof(T) * H);
        continue;
      }
      T* dhb = dhp + b * H;
      const T* gor = gop + row * H;
      const T* ab = act.data_ptr<T>() + row * H;
      const T* zh = o.zone_row(0, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dhv = dhb[j] + gor[j];
        const T d = zh[j];
        dhb[j] = dhv * d;
        dpr[j] = dhv * (T(1) - d) * phi_grad_from_output(ab[j], relu);
      }
      if (diagonal) {
        const T* hrb = hread.data_ptr<T>() + row * H;
        T* dup = du.data_ptr<T>();
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          dup[j] += dpr[j] * hrb[j];
          dhr[b * H + j] = dpr[j] * w[j];
        }
      }
    }
    if (!diagonal) back_product(dhr, dP.data_ptr<T>() + t * B * H, T(0));
    o.add_read_gradient(dhp, dhr, t);
  }
  auto dW = diagonal ? du : at::mm(dP.view({steps * B, H}).t(), hread.view({steps * B, H}));
  return {dP, dh, dW};
}

}  // namespace rnnkit
