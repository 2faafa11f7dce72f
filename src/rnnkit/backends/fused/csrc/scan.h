// The linear recurrence h_t = a_t * h_{t-1} + b_t (minGRU, minLSTM, LRU), real or complex, as one
// sequential pass over time vectorised over the N = batch * features lanes, and its backward
//   g_t = dL/dh_t + conj(a_{t+1}) g_{t+1},  db_t = g_t,  da_t = g_t conj(h_{t-1}),  dh0 = conj(a_0) g_0
// (PyTorch's convention for complex gradients). On one CPU core this is as fast as a scan can be: O(T N)
// work with no extra passes, and exactly as precise as stepping.
#pragma once
#include "common.h"

namespace rnnkit {

template <typename T>
at::Tensor scan_forward_t(const at::Tensor& a, const at::Tensor& b, const at::Tensor& h0, bool complex) {
  const int64_t steps = b.size(0), N = b.numel() / std::max<int64_t>(steps, 1);
  auto h = at::empty_like(b, at::MemoryFormat::Contiguous);
  const T* ap = a.data_ptr<T>();
  const T* bp = b.data_ptr<T>();
  const T* prev = h0.data_ptr<T>();
  T* hp = h.data_ptr<T>();
  for (int64_t t = 0; t < steps; ++t) {
    const T* at_ = ap + t * N;
    const T* bt = bp + t * N;
    T* ht = hp + t * N;
    if (complex) {  // interleaved (re, im) pairs
#pragma omp simd
      for (int64_t i = 0; i < N; i += 2) {
        ht[i] = at_[i] * prev[i] - at_[i + 1] * prev[i + 1] + bt[i];
        ht[i + 1] = at_[i] * prev[i + 1] + at_[i + 1] * prev[i] + bt[i + 1];
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < N; ++i) ht[i] = at_[i] * prev[i] + bt[i];
    }
    prev = ht;
  }
  return h;
}

template <typename T>
std::vector<at::Tensor> scan_backward_t(const at::Tensor& grad, const at::Tensor& a, const at::Tensor& h,
                                        const at::Tensor& h0, bool complex) {
  const int64_t steps = h.size(0), N = h.numel() / std::max<int64_t>(steps, 1);
  auto da = at::empty_like(h, at::MemoryFormat::Contiguous);
  auto db = at::empty_like(h, at::MemoryFormat::Contiguous);
  auto dh0 = at::empty_like(h0, at::MemoryFormat::Contiguous);
  std::vector<T> carry(N, T(0));  // conj(a_{t+1}) g_{t+1}
  const T* gp = grad.data_ptr<T>();
  const T* ap = a.data_ptr<T>();
  const T* hp = h.data_ptr<T>();
  T* c = carry.data();
  for (int64_t t = steps - 1; t >= 0; --t) {
    const T* gt = gp + t * N;
    const T* at_ = ap + t * N;
    const T* prev = t > 0 ? hp + (t - 1) * N : h0.data_ptr<T>();
    T* dat = da.data_ptr<T>() + t * N;
    T* dbt = db.data_ptr<T>() + t * N;
    if (complex) {
#pragma omp simd
      for (int64_t i = 0; i < N; i += 2) {
        const T gr = gt[i] + c[i], gi = gt[i + 1] + c[i + 1];
        dbt[i] = gr;
        dbt[i + 1] = gi;
        dat[i] = gr * prev[i] + gi * prev[i + 1];  // g * conj(h_prev)
        dat[i + 1] = gi * prev[i] - gr * prev[i + 1];
        c[i] = at_[i] * gr + at_[i + 1] * gi;  // conj(a) * g
        c[i + 1] = at_[i] * gi - at_[i + 1] * gr;
      }
    } else {
#pragma omp simd
      for (int64_t i = 0; i < N; ++i) {
        const T g = gt[i] + c[i];
        dbt[i] = g;
        dat[i] = g * prev[i];
        c[i] = at_[i] * g;
      }
    }
  }
  std::memcpy(dh0.data_ptr<T>(), c, sizeof(T) * N);
  return {da, db, dh0};
}

}  // namespace rnnkit
