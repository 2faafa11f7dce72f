// GRU (cuDNN form: reset gate after the recurrent product) and layer-norm GRU over time, forward and
// hand-written BPTT backward. Gate order (r, z, n) as torch.nn.GRU:
//   hid = W h + b_hh          or, with norm_hh:  hid = norm_hh * LN(W h) + b_hh
//   r = s(P_r + hid_r), z = s(P_z + hid_z), n = tanh(P_n + r * hid_n), h' = n + z (h - n)
// with variational dropout (h read through a mask everywhere the step reads it), zoneout on h, lengths.
#pragma once
#include "common.h"

namespace rnnkit {

template <typename T>
std::vector<at::Tensor> gru_forward_t(const at::Tensor& P, const at::Tensor& h0, const at::Tensor& W,
                                      const at::Tensor& bias_hh, const at::Tensor& norm_hh, T eps,
                                      const StepOptions<T>& o, bool save) {
  const int64_t steps = P.size(0), B = P.size(1), G = P.size(2), H = G / 3;
  const bool ln = norm_hh.numel() > 0, has_bias = bias_hh.numel() > 0;
  const int64_t keep = save ? steps : 1;
  auto out = workspace({steps, B, H}, P.options());
  auto h = h0.clone(at::MemoryFormat::Contiguous);
  auto hread = workspace({keep, B, H}, P.options());
  auto gates = workspace({keep, B, G}, P.options());    // r, z, n after their nonlinearities
  auto hidn = workspace({keep, B, H}, P.options());     // the recurrent n-part, hid_n
  auto xhat = ln ? workspace({keep, B, G}, P.options()) : nothing(P);
  auto rstd = ln ? workspace({keep, B}, P.options()) : nothing(P);
  auto hid = at::empty({B, G}, P.options());
  const StepMatmul<T> recurrent_product(W.data_ptr<T>(), B, G, H, /*nt=*/true);

  const T* p = P.data_ptr<T>();
  std::vector<T> zero_bias(has_bias ? 0 : G, T(0));
  const T* bh = has_bias ? bias_hh.data_ptr<T>() : zero_bias.data();
  const T* nw = ln ? norm_hh.data_ptr<T>() : nullptr;
  T* hp = h.data_ptr<T>();
  T* outp = out.data_ptr<T>();
  T* hd = hid.data_ptr<T>();

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t s = save ? t : 0;
    T* hr = hread.data_ptr<T>() + s * B * H;
    T* g = gates.data_ptr<T>() + s * B * G;
    const T* pt = p + t * B * G;
    o.read_state(hr, hp);
    recurrent_product(hd, hr, T(0));
    for (int64_t b = 0; b < B; ++b) {
      T* row = hd + b * G;
      if (ln) {
        T* xh = xhat.data_ptr<T>() + (s * B + b) * G;
        rstd.data_ptr<T>()[s * B + b] = ln_forward_row(row, xh, G, eps);
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) row[k] = nw[k] * xh[k] + bh[k];
      } else {
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) row[k] += bh[k];
      }
      T* orow = outp + (t * B + b) * H;
      if (!o.valid(t, b)) {
        std::memset(orow, 0, sizeof(T) * H);
        continue;
      }
      const T* pr = pt + b * G;
      T* gr = g + b * G;
      T* hn = hidn.data_ptr<T>() + (s * B + b) * H;
      T* hb = hp + b * H;
      const T* hrb = hr + b * H;
      const T* zh = o.zone_row(0, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T r = k_sigmoid(pr[j] + row[j]);
        const T z = k_sigmoid(pr[H + j] + row[H + j]);
        const T n = k_tanh(pr[2 * H + j] + r * row[2 * H + j]);
        gr[j] = r;
        gr[H + j] = z;
        gr[2 * H + j] = n;
        hn[j] = row[2 * H + j];
        const T hnew = n + z * (hrb[j] - n);
        const T d = zh[j];
        const T hv = d * hb[j] + (T(1) - d) * hnew;  // exact for masks of 0 and 1
        hb[j] = hv;
        orow[j] = hv;
      }
    }
  }
  return {out, h, hread, gates, hidn, xhat, rstd};
}

template <typename T>
std::vector<at::Tensor> gru_backward_t(const at::Tensor& grad_out, const at::Tensor& grad_h, const at::Tensor& W,
                                       const at::Tensor& norm_hh, bool has_bias, const StepOptions<T>& o,
                                       const at::Tensor& hread, const at::Tensor& gates, const at::Tensor& hidn,
                                       const at::Tensor& xhat, const at::Tensor& rstd) {
  const int64_t steps = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 3;
  const bool ln = norm_hh.numel() > 0;
  auto dP = workspace({steps, B, G}, gates.options());
  auto dR = workspace({steps, B, G}, gates.options());
  auto dh = grad_h.clone(at::MemoryFormat::Contiguous);
  auto dhread = at::empty({B, H}, gates.options());
  auto dnw = ln ? at::zeros({G}, gates.options()) : nothing(gates);
  auto dbias = has_bias ? at::zeros({G}, gates.options()) : nothing(gates);
  const StepMatmul<T> back_product(W.data_ptr<T>(), B, H, G, /*nt=*/false);

  const T* gop = grad_out.data_ptr<T>();
  const T* nw = ln ? norm_hh.data_ptr<T>() : nullptr;
  T* dhp = dh.data_ptr<T>();
  T* dhr = dhread.data_ptr<T>();
  T* dnwp = ln ? dnw.data_ptr<T>() : nullptr;
  T* dbp = has_bias ? dbias.data_ptr<T>() : nullptr;

  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = t * B + b;
      T* dpr = dP.data_ptr<T>() + row * G;
      T* drr = dR.data_ptr<T>() + row * G;
      T* dhrb = dhr + b * H;
      if (!o.valid(t, b)) {
        std::memset(dpr, 0, sizeof(T) * G);
        std::memset(drr, 0, sizeof(T) * G);
        std::memset(dhrb, 0, sizeof(T) * H);
        continue;
      }
      T* dhb = dhp + b * H;
      const T* gor = gop + row * H;
      const T* gr = gates.data_ptr<T>() + row * G;
      const T* hn = hidn.data_ptr<T>() + row * H;
      const T* hrb = hread.data_ptr<T>() + row * H;
      const T* zh = o.zone_row(0, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dhv = dhb[j] + gor[j];
        const T d = zh[j];
        const T dhn = dhv * (T(1) - d);
        dhb[j] = dhv * d;
        const T r = gr[j], z = gr[H + j], n = gr[2 * H + j];
        const T dpn = dhn * (T(1) - z) * (T(1) - n * n);
        const T dpr_ = dpn * hn[j] * r * (T(1) - r);
        const T dpz = dhn * (hrb[j] - n) * z * (T(1) - z);
        dpr[j] = dpr_;
        dpr[H + j] = dpz;
        dpr[2 * H + j] = dpn;
        drr[j] = dpr_;
        drr[H + j] = dpz;
        drr[2 * H + j] = dpn * r;
        dhrb[j] = dhn * z;
      }
      if (dbp) {
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) dbp[k] += drr[k];
      }
      if (ln) {
        const T* xh = xhat.data_ptr<T>() + row * G;
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) {
          dnwp[k] += drr[k] * xh[k];
          drr[k] *= nw[k];
        }
        ln_backward_row(drr, xh, rstd.data_ptr<T>()[row], G);
      }
    }
    back_product(dhr, dR.data_ptr<T>() + t * B * G, T(1));
    o.add_read_gradient(dhp, dhr, t);
  }
  auto dW = at::mm(dR.view({steps * B, G}).t(), hread.view({steps * B, H}));
  return {dP, dh, dW, dbias, dnw};
}

}  // namespace rnnkit
