// LSTM and layer-norm LSTM over time: forward saving what the backward needs, and the hand-written
// BPTT backward. Gate order (i, f, g, o) as torch.nn.LSTM. Optional pieces:
//   norm_hh (4H weight): gates = P + norm_hh * LN(W h)   (Ba et al. 2016; the LN shift lives in P's bias)
//   norm_c (H weight, H bias): h = o * tanh(LN(c))
//   variational dropout (h read through a mask), zoneout on h and c, lengths.
#pragma once
#include "common.h"

namespace rnnkit {

template <typename T>
std::vector<at::Tensor> lstm_forward_t(const at::Tensor& P, const at::Tensor& h0, const at::Tensor& c0,
                                       const at::Tensor& W, const at::Tensor& norm_hh, const at::Tensor& norm_cw,
                                       const at::Tensor& norm_cb, T eps, const StepOptions<T>& o, bool save) {
  const int64_t steps = P.size(0), B = P.size(1), G = P.size(2), H = G / 4;
  const bool ln = norm_hh.numel() > 0, lnc = norm_cw.numel() > 0;
  const int64_t keep = save ? steps : 1;  // saved per-step buffers, or one reused step
  auto out = workspace({steps, B, H}, P.options());
  auto h = h0.clone(at::MemoryFormat::Contiguous), c = c0.clone(at::MemoryFormat::Contiguous);
  auto hread = workspace({keep, B, H}, P.options());
  auto cs = save ? workspace({steps + 1, B, H}, P.options()) : nothing(P);
  auto gates = workspace({keep, B, G}, P.options());
  auto xhat = ln ? workspace({keep, B, G}, P.options()) : nothing(P);
  auto rstd = ln ? workspace({keep, B}, P.options()) : nothing(P);
  auto chat = lnc ? workspace({keep, B, H}, P.options()) : nothing(P);
  auto rstdc = lnc ? workspace({keep, B}, P.options()) : nothing(P);
  auto th = workspace({keep, B, H}, P.options());
  auto recurrent = ln ? at::empty({B, G}, P.options()) : nothing(P);
  std::vector<T> cnew(H), y(H);
  const StepMatmul<T> recurrent_product(W.data_ptr<T>(), B, G, H, /*nt=*/true);

  const T* p = P.data_ptr<T>();
  const T* nw = ln ? norm_hh.data_ptr<T>() : nullptr;
  const T* ncw = lnc ? norm_cw.data_ptr<T>() : nullptr;
  const T* ncb = lnc ? norm_cb.data_ptr<T>() : nullptr;
  T* hp = h.data_ptr<T>();
  T* cp = c.data_ptr<T>();
  T* outp = out.data_ptr<T>();
  if (save) std::memcpy(cs.data_ptr<T>(), cp, sizeof(T) * B * H);

  for (int64_t t = 0; t < steps; ++t) {
    const int64_t s = save ? t : 0;
    T* hr = hread.data_ptr<T>() + s * B * H;
    T* g = gates.data_ptr<T>() + s * B * G;
    const T* pt = p + t * B * G;
    o.read_state(hr, hp);
    if (ln) {
      T* r = recurrent.data_ptr<T>();
      T* xh = xhat.data_ptr<T>() + s * B * G;
      T* rs = rstd.data_ptr<T>() + s * B;
      recurrent_product(r, hr, T(0));
      for (int64_t b = 0; b < B; ++b) {
        rs[b] = ln_forward_row(r + b * G, xh + b * G, G, eps);
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) g[b * G + k] = pt[b * G + k] + nw[k] * xh[b * G + k];
      }
    } else {
      std::memcpy(g, pt, sizeof(T) * B * G);
      recurrent_product(g, hr, T(1));
    }
    for (int64_t b = 0; b < B; ++b) {
      T* orow = outp + (t * B + b) * H;
      if (!o.valid(t, b)) {
        std::memset(orow, 0, sizeof(T) * H);
        continue;
      }
      T* gi = g + b * G;
      T *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
      T* hb = hp + b * H;
      T* cb = cp + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        gi[j] = k_sigmoid(gi[j]);
        gf[j] = k_sigmoid(gf[j]);
        gg[j] = k_tanh(gg[j]);
        go[j] = k_sigmoid(go[j]);
        cnew[j] = gf[j] * cb[j] + gi[j] * gg[j];
      }
      if (lnc) {
        T* ch = chat.data_ptr<T>() + (s * B + b) * H;
        rstdc.data_ptr<T>()[s * B + b] = ln_forward_row(cnew.data(), ch, H, eps);
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) y[j] = ch[j] * ncw[j] + ncb[j];
      } else {
        std::memcpy(y.data(), cnew.data(), sizeof(T) * H);
      }
      T* thr = th.data_ptr<T>() + (s * B + b) * H;
      const T* zh = o.zone_row(0, t, b);
      const T* zc = o.zone_row(1, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        thr[j] = k_tanh(y[j]);
        const T hn = go[j] * thr[j];
        const T dh = zh[j], dc = zc[j];
        const T hv = dh * hb[j] + (T(1) - dh) * hn;  // exact for masks of 0 and 1
        cb[j] = dc * cb[j] + (T(1) - dc) * cnew[j];
        hb[j] = hv;
        orow[j] = hv;
      }
    }
    if (save) std::memcpy(cs.data_ptr<T>() + (t + 1) * B * H, cp, sizeof(T) * B * H);
  }
  return {out, h, c, hread, cs, gates, xhat, rstd, chat, rstdc, th};
}

template <typename T>
std::vector<at::Tensor> lstm_backward_t(const at::Tensor& grad_out, const at::Tensor& grad_h, const at::Tensor& grad_c,
                                        const at::Tensor& W, const at::Tensor& norm_hh, const at::Tensor& norm_cw,
                                        const StepOptions<T>& o, const at::Tensor& hread, const at::Tensor& cs,
                                        const at::Tensor& gates, const at::Tensor& xhat, const at::Tensor& rstd,
                                        const at::Tensor& chat, const at::Tensor& rstdc, const at::Tensor& th) {
  const int64_t steps = gates.size(0), B = gates.size(1), G = gates.size(2), H = G / 4;
  const bool ln = norm_hh.numel() > 0, lnc = norm_cw.numel() > 0;
  auto dP = workspace({steps, B, G}, gates.options());
  auto dR = ln ? workspace({steps, B, G}, gates.options()) : dP;  // gradient of the recurrent product
  auto dh = grad_h.clone(at::MemoryFormat::Contiguous), dc = grad_c.clone(at::MemoryFormat::Contiguous);
  auto dhread = at::empty({B, H}, gates.options());
  auto dnw = ln ? at::zeros({G}, gates.options()) : nothing(gates);
  auto dncw = lnc ? at::zeros({H}, gates.options()) : nothing(gates);
  auto dncb = lnc ? at::zeros({H}, gates.options()) : nothing(gates);
  std::vector<T> dy(H);
  const StepMatmul<T> back_product(W.data_ptr<T>(), B, H, G, /*nt=*/false);

  const T* gop = grad_out.data_ptr<T>();
  const T* nw = ln ? norm_hh.data_ptr<T>() : nullptr;
  const T* ncw = lnc ? norm_cw.data_ptr<T>() : nullptr;
  T* dhp = dh.data_ptr<T>();
  T* dcp = dc.data_ptr<T>();
  T* dhr = dhread.data_ptr<T>();
  T* dnwp = ln ? dnw.data_ptr<T>() : nullptr;
  T* dncwp = lnc ? dncw.data_ptr<T>() : nullptr;
  T* dncbp = lnc ? dncb.data_ptr<T>() : nullptr;

  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t row = t * B + b;
      T* dpr = dP.data_ptr<T>() + row * G;
      T* drr = dR.data_ptr<T>() + row * G;
      if (!o.valid(t, b)) {  // the state passed through unchanged: so does its gradient
        std::memset(dpr, 0, sizeof(T) * G);
        if (ln) std::memset(drr, 0, sizeof(T) * G);
        continue;
      }
      T* dhb = dhp + b * H;
      T* dcb = dcp + b * H;
      const T* gor = gop + row * H;
      const T* gi = gates.data_ptr<T>() + row * G;
      const T *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
      const T* thr = th.data_ptr<T>() + row * H;
      const T* cprev = cs.data_ptr<T>() + row * H;
      const T* zh = o.zone_row(0, t, b);
      const T* zc = o.zone_row(1, t, b);
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dhv = dhb[j] + gor[j];
        const T d = zh[j];
        const T dhn = dhv * (T(1) - d);
        dhb[j] = dhv * d;
        const T og = go[j], tj = thr[j];
        dpr[3 * H + j] = dhn * tj * og * (T(1) - og);
        dy[j] = dhn * og * (T(1) - tj * tj);
      }
      if (lnc) {
        const T* ch = chat.data_ptr<T>() + row * H;
#pragma omp simd
        for (int64_t j = 0; j < H; ++j) {
          dncwp[j] += dy[j] * ch[j];
          dncbp[j] += dy[j];
          dy[j] *= ncw[j];
        }
        ln_backward_row(dy.data(), ch, rstdc.data_ptr<T>()[row], H);
      }
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T dz = zc[j];
        const T dcn = dcb[j] * (T(1) - dz) + dy[j];
        const T ig = gi[j], fg = gf[j], cg = gg[j];
        dpr[j] = dcn * cg * ig * (T(1) - ig);
        dpr[H + j] = dcn * cprev[j] * fg * (T(1) - fg);
        dpr[2 * H + j] = dcn * ig * (T(1) - cg * cg);
        dcb[j] = dcn * fg + dcb[j] * dz;
      }
      if (ln) {
        const T* xh = xhat.data_ptr<T>() + row * G;
#pragma omp simd
        for (int64_t k = 0; k < G; ++k) {
          dnwp[k] += dpr[k] * xh[k];
          drr[k] = dpr[k] * nw[k];
        }
        ln_backward_row(drr, xh, rstd.data_ptr<T>()[row], G);
      }
    }
    back_product(dhr, dR.data_ptr<T>() + t * B * G, T(0));
    o.add_read_gradient(dhp, dhr, t);
  }
  // Weight gradient of every step at once: one matrix product.
  auto dW = at::mm(dR.view({steps * B, G}).t(), hread.view({steps * B, H}));
  return {dP, dh, dc, dW, dnw, dncw, dncb};
}

}  // namespace rnnkit
