// minGRU and minLSTM (Feng et al. 2024) over time, with their gate arithmetic inside the scan: one pass
// reads the projected input and writes the states, and the backward recomputes the coefficients from
// the projected input rather than saving them. Coefficients in linear space but computed as the paper's
// log-space ones are (a = sigmoid(-k) rather than 1 - sigmoid(k), so nothing cancels):
//   minGRU  (P = [k, c]):      a = s(-k),  b = s(k) g(c)
//   minLSTM (P = [k_f, k_i, c]): d = softplus(-k_f) - softplus(-k_i),  a = s(-d),  b = s(d) g(c)
// with g(c) = c + 1/2 (c >= 0), s(c) (c < 0); h_t = a_t h_{t-1} + b_t.
#pragma once
#include "common.h"

namespace rnnkit {

template <typename T>
inline T g_of(T c) { return c >= T(0) ? c + T(0.5) : k_sigmoid(c); }

template <typename T>
inline T g_grad(T c) {
  const T s = k_sigmoid(c);
  return c >= T(0) ? T(1) : s * (T(1) - s);
}

template <typename T, bool LSTM>
at::Tensor min_forward_t(const at::Tensor& P, const at::Tensor& h0) {
  const int64_t steps = P.size(0), B = P.size(1), H = P.size(2) / (LSTM ? 3 : 2);
  auto h = workspace({steps, B, H}, P.options());
  const T* p = P.data_ptr<T>();
  T* hp = h.data_ptr<T>();
  const T* h0p = h0.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    for (int64_t b = 0; b < B; ++b) {
      const T* row = p + (t * B + b) * H * (LSTM ? 3 : 2);
      const T* prev = t > 0 ? hp + ((t - 1) * B + b) * H : h0p + b * H;
      T* out = hp + (t * B + b) * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        T a, w;
        if constexpr (LSTM) {
          const T d = k_softplus(-row[j]) - k_softplus(-row[H + j]);
          a = k_sigmoid(-d);
          w = k_sigmoid(d);
        } else {
          a = k_sigmoid(-row[j]);
          w = k_sigmoid(row[j]);
        }
        out[j] = a * prev[j] + w * g_of(row[(LSTM ? 2 : 1) * H + j]);
      }
    }
  }
  return h;
}

template <typename T, bool LSTM>
std::vector<at::Tensor> min_backward_t(const at::Tensor& grad, const at::Tensor& P, const at::Tensor& h,
                                       const at::Tensor& h0) {
  const int64_t steps = P.size(0), B = P.size(1), G = P.size(2), H = G / (LSTM ? 3 : 2);
  auto dP = workspace({steps, B, G}, P.options());
  auto carry = at::zeros({B, H}, P.options());  // a_{t+1} dL/dh_{t+1}, accumulated
  const T* gp = grad.data_ptr<T>();
  const T* p = P.data_ptr<T>();
  const T* hp = h.data_ptr<T>();
  const T* h0p = h0.data_ptr<T>();
  T* cp = carry.data_ptr<T>();
  for (int64_t t = steps - 1; t >= 0; --t) {
    for (int64_t b = 0; b < B; ++b) {
      const T* row = p + (t * B + b) * G;
      T* drow = dP.data_ptr<T>() + (t * B + b) * G;
      const T* gt = gp + (t * B + b) * H;
      const T* prev = t > 0 ? hp + ((t - 1) * B + b) * H : h0p + b * H;
      T* c = cp + b * H;
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        const T gsum = gt[j] + c[j];
        const T cand = row[(LSTM ? 2 : 1) * H + j];
        const T gv = g_of(cand);
        if constexpr (LSTM) {
          const T d = k_softplus(-row[j]) - k_softplus(-row[H + j]);
          const T a = k_sigmoid(-d), w = k_sigmoid(d);
          const T dd = a * w * gsum * (gv - prev[j]);
          drow[j] = -dd * k_sigmoid(-row[j]);
          drow[H + j] = dd * k_sigmoid(-row[H + j]);
          drow[2 * H + j] = gsum * w * g_grad(cand);
          c[j] = a * gsum;
        } else {
          const T a = k_sigmoid(-row[j]), w = k_sigmoid(row[j]);
          drow[j] = a * w * gsum * (gv - prev[j]);
          drow[H + j] = gsum * w * g_grad(cand);
          c[j] = a * gsum;
        }
      }
    }
  }
  return {dP, carry};
}

}  // namespace rnnkit
