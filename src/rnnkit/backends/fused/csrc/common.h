// Shared helpers of rnnkit's CPU kernels: vectorisable math, row-major GEMM, layer-norm rows,
// and the per-call options (lengths, variational-dropout mask, zoneout masks or rates).
//
// Only per-operator ATen headers are included (not <torch/extension.h>): the build on first use
// takes seconds rather than most of a minute.
#pragma once

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/addmm.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/zeros.h>
#include <c10/util/Exception.h>
#include <dlfcn.h>
#include <sys/mman.h>
#include <torch/library.h>

#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

namespace rnnkit {

// ------------------------------------------------------------------------------------- math
// float: Cephes' expf polynomial with integer exponent scaling. Pure arithmetic, so the compiler
// vectorises loops that call it (std::exp would stay scalar without -ffast-math, which we avoid:
// a shared library built with it can switch the whole process to flush-to-zero). About 2 ulp.
template <typename T>
inline T k_exp(T x) { return std::exp(x); }

template <>
inline float k_exp<float>(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  return p * __builtin_bit_cast(float, bits);
}

// float: Cephes' logf (mantissa in [sqrt(1/2), sqrt(2)) by bit manipulation, then a polynomial); x > 0.
template <typename T>
inline T k_log(T x) { return std::log(x); }

template <>
inline float k_log<float>(float x) {
  const int32_t bits = __builtin_bit_cast(int32_t, x);
  float e = static_cast<float>(((bits >> 23) & 0xff) - 126);
  float m = __builtin_bit_cast(float, (bits & 0x807fffff) | 0x3f000000);  // in [0.5, 1)
  const bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z - 2.12194440e-4f * e - 0.5f * z;
  return m + y + 0.693359375f * e;
}

// log(1 + exp(x)) without overflow.
template <typename T>
inline T k_softplus(T x) {
  const T ax = x < T(0) ? -x : x;
  return (x > T(0) ? x : T(0)) + k_log(T(1) + k_exp(-ax));
}

template <typename T>
inline T k_sigmoid(T x) { return T(1) / (T(1) + k_exp(-x)); }

template <typename T>
inline T k_tanh(T x) { return std::tanh(x); }

template <>
inline float k_tanh<float>(float x) { return 1.0f - 2.0f / (k_exp(2.0f * x) + 1.0f); }

// --------------------------------------------------------------------------------- row-major GEMM
// MKL's Fortran sgemm_/dgemm_ when the process has them (PyTorch's x86 builds export them): one
// call per step with raw pointers, no tensor bookkeeping. Otherwise ATen's mm on views.
using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                         const int*, const float*, const int*, const float*, float*, const int*);
using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const double*,
                         const double*, const int*, const double*, const int*, const double*, double*, const int*);

inline sgemm_t find_sgemm() {
  static sgemm_t fn = reinterpret_cast<sgemm_t>(dlsym(RTLD_DEFAULT, "sgemm_"));
  return fn;
}
inline dgemm_t find_dgemm() {
  static dgemm_t fn = reinterpret_cast<dgemm_t>(dlsym(RTLD_DEFAULT, "dgemm_"));
  return fn;
}

template <typename T>
inline void blas(char ta, char tb, int m, int n, int k, T beta, const T* a, int lda, const T* b, int ldb, T* c,
                 int ldc, bool* done);

template <>
inline void blas<float>(char ta, char tb, int m, int n, int k, float beta, const float* a, int lda, const float* b,
                        int ldb, float* c, int ldc, bool* done) {
  const float one = 1.0f;
  if (auto fn = find_sgemm()) {
    fn(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
    *done = true;
  }
}

template <>
inline void blas<double>(char ta, char tb, int m, int n, int k, double beta, const double* a, int lda,
                         const double* b, int ldb, double* c, int ldc, bool* done) {
  const double one = 1.0;
  if (auto fn = find_dgemm()) {
    fn(&ta, &tb, &m, &n, &k, &one, a, &lda, b, &ldb, &beta, c, &ldc);
    *done = true;
  }
}

template <typename T>
at::Tensor view_of(const T* data, int64_t rows, int64_t cols) {
  auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
  return at::from_blob(const_cast<T*>(data), {rows, cols}, options);
}

// C (M x N) = A (M x K) @ B(N x K)^T + beta C, all row-major and contiguous.
template <typename T>
void mm_nt(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, T beta) {
  bool done = false;
  // Column-major view: C^T = B A^T.
  blas<T>('T', 'N', N, M, K, beta, b, K, a, K, c, N, &done);
  if (done) return;
  auto out = view_of(c, M, N);
  if (beta == T(0)) at::mm_out(out, view_of(a, M, K), view_of(b, N, K).t());
  else at::addmm_out(out, out, view_of(a, M, K), view_of(b, N, K).t(), beta, 1);
}

// C (M x N) = A (M x K) @ B (K x N) + beta C, all row-major and contiguous.
template <typename T>
void mm_nn(T* c, const T* a, const T* b, int64_t M, int64_t N, int64_t K, T beta) {
  bool done = false;
  blas<T>('N', 'N', N, M, K, beta, b, N, a, K, c, N, &done);
  if (done) return;
  auto out = view_of(c, M, N);
  if (beta == T(0)) at::mm_out(out, view_of(a, M, K), view_of(b, K, N));
  else at::addmm_out(out, out, view_of(a, M, K), view_of(b, K, N), beta, 1);
}

// The recurrent product of every step reads the same weight. With MKL's packed GEMM (float) the weight
// is laid out for the GEMM kernel once per sequence rather than at every step, which is what
// oneDNN's fused LSTM does too; without it, the plain row-major GEMM above.
using pack_size_t = size_t (*)(int, int, int, int);
using pack_t = void (*)(int, int, int, int, int, int, float, const float*, int, float*);
using compute_t = void (*)(int, int, int, int, int, int, const float*, int, const float*, int, float, float*, int);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112, kPacked = 151, kBMatrix = 162;

struct PackedGemm {
  pack_size_t size = nullptr;
  pack_t pack = nullptr;
  compute_t compute = nullptr;
};

inline const PackedGemm& packed_gemm() {
  static PackedGemm fns = [] {
    PackedGemm f;
    f.size = reinterpret_cast<pack_size_t>(dlsym(RTLD_DEFAULT, "cblas_sgemm_pack_get_size"));
    f.pack = reinterpret_cast<pack_t>(dlsym(RTLD_DEFAULT, "cblas_sgemm_pack"));
    f.compute = reinterpret_cast<compute_t>(dlsym(RTLD_DEFAULT, "cblas_sgemm_compute"));
    return f;
  }();
  return fns;
}

// C (M x N) = A (M x K) @ op(W) + beta C for one fixed W and many A (row-major): op(W) = W^T for a
// W of shape (N x K) ("nt"), or W itself for a W of shape (K x N) ("nn").
template <typename T>
class StepMatmul {
 public:
  StepMatmul(const T* w, int64_t M, int64_t N, int64_t K, bool nt) : w_(w), M_(M), N_(N), K_(K), nt_(nt) {
    if constexpr (std::is_same_v<T, float>) {
      const auto& f = packed_gemm();
      if (f.size && f.pack && f.compute && M > 0) {
        const size_t bytes = f.size(kBMatrix, M, N, K);
        packed_ = at::empty({static_cast<int64_t>(bytes / sizeof(float)) + 16}, at::kFloat);
        f.pack(kRowMajor, kBMatrix, nt ? kTrans : kNoTrans, M, N, K, 1.0f, w, nt ? K : N,
               packed_.data_ptr<float>());
      }
    }
  }
  void operator()(T* c, const T* a, T beta) const {
    if constexpr (std::is_same_v<T, float>) {
      if (packed_.defined()) {
        packed_gemm().compute(kRowMajor, kNoTrans, kPacked, M_, N_, K_, a, K_, packed_.data_ptr<float>(), N_, beta,
                              c, N_);
        return;
      }
    }
    if (nt_) mm_nt<T>(c, a, w_, M_, N_, K_, beta);
    else mm_nn<T>(c, a, w_, M_, N_, K_, beta);
  }

 private:
  const T* w_;
  int64_t M_, N_, K_;
  bool nt_;
  at::Tensor packed_;
};

// ------------------------------------------------------------------------------ layer norm rows
// xhat = (x - mean) / sqrt(var + eps) over n values (biased variance, as torch.nn.LayerNorm); returns 1/sqrt(..).
template <typename T>
inline T ln_forward_row(const T* x, T* xhat, int64_t n, T eps) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const T mean = sum / T(n);
  T sq = 0;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const T rstd = T(1) / std::sqrt(sq / T(n) + eps);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) xhat[i] = (x[i] - mean) * rstd;
  return rstd;
}

// In place: dxhat -> dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
template <typename T>
inline void ln_backward_row(T* d, const T* xhat, T rstd, int64_t n) {
  T s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
  for (int64_t i = 0; i < n; ++i) {
    s1 += d[i];
    s2 += d[i] * xhat[i];
  }
  s1 /= T(n);
  s2 /= T(n);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) d[i] = rstd * (d[i] - s1 - xhat[i] * s2);
}

// ------------------------------------------------------------------------------ per-call options
// What the time loop needs besides the cell's weights: which (t, b) are real steps, the variational
// dropout mask of the recurrent input, and for each zoned-out state tensor either per-step masks
// (T, B, H) of "keep the previous value" (training) or one rate (evaluation: the expectation).
template <typename T>
struct StepOptions {
  const int64_t* lengths = nullptr;  // (B,) or null: every sequence is T long
  const T* var_mask = nullptr;       // (B, H) or null
  const T* zone[2] = {nullptr, nullptr};
  std::vector<T> rate_row[2];  // the rate repeated H times, when there are no masks
  int64_t batch = 0, hidden = 0;

  bool valid(int64_t t, int64_t b) const { return lengths == nullptr || t < lengths[b]; }
  // The state a step's recurrent product reads (B x H): the previous state, times the variational
  // dropout mask when there is one.
  void read_state(T* hr, const T* hp) const {
    if (var_mask) {
#pragma omp simd
      for (int64_t i = 0; i < batch * hidden; ++i) hr[i] = hp[i] * var_mask[i];
    } else {
      std::memcpy(hr, hp, sizeof(T) * batch * hidden);
    }
  }
  // dL/dh_{t-1} += the gradient of the read state (times the mask, read_state's chain rule), for the
  // rows still inside their sequence at step t.
  void add_read_gradient(T* dh, const T* dread, int64_t t) const {
    for (int64_t b = 0; b < batch; ++b) {
      if (!valid(t, b)) continue;
      T* dhb = dh + b * hidden;
      const T* dr = dread + b * hidden;
      if (var_mask) {
        const T* m = var_mask + b * hidden;
#pragma omp simd
        for (int64_t j = 0; j < hidden; ++j) dhb[j] += dr[j] * m[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < hidden; ++j) dhb[j] += dr[j];
      }
    }
  }
  // Row of keep-weights (H values) for state tensor k at (t, b): its mask row, or the rate repeated.
  // Always a valid pointer, so the loops that read it have no branch and vectorise.
  const T* zone_row(int k, int64_t t, int64_t b) const {
    return zone[k] == nullptr ? rate_row[k].data() : zone[k] + (t * batch + b) * hidden;
  }
};

template <typename T>
StepOptions<T> make_options(const c10::optional<at::Tensor>& lengths, const c10::optional<at::Tensor>& var_mask,
                            const c10::optional<at::Tensor>& zone_h, double rate_h,
                            const c10::optional<at::Tensor>& zone_c, double rate_c, int64_t batch, int64_t hidden) {
  StepOptions<T> o;
  o.batch = batch;
  o.hidden = hidden;
  if (lengths && lengths->defined()) {
    TORCH_CHECK(lengths->scalar_type() == at::kLong && lengths->is_contiguous() && lengths->numel() == batch,
                "rnnkit kernels: lengths must be a contiguous int64 tensor of shape (batch,)");
    o.lengths = lengths->data_ptr<int64_t>();
  }
  if (var_mask && var_mask->defined()) {
    TORCH_CHECK(var_mask->is_contiguous() && var_mask->numel() == batch * hidden,
                "rnnkit kernels: the variational dropout mask must be contiguous (batch, hidden)");
    o.var_mask = var_mask->data_ptr<T>();
  }
  const c10::optional<at::Tensor>* zones[2] = {&zone_h, &zone_c};
  const double rates[2] = {rate_h, rate_c};
  for (int k = 0; k < 2; ++k) {
    o.rate_row[k].assign(hidden, T(rates[k]));
    if (*zones[k] && (*zones[k])->defined()) {
      TORCH_CHECK((*zones[k])->is_contiguous(), "rnnkit kernels: zoneout masks must be contiguous (T, B, H)");
      o.zone[k] = (*zones[k])->template data_ptr<T>();
    }
  }
  return o;
}

// Large per-sequence buffers (saved activations, gradients of every step) on transparent huge pages
// where the kernel allows it (madvise mode), and kept for reuse once freed: written once per call, a
// fresh buffer costs a page fault per page and the kernel zeroing it, which on a virtual machine took
// as long as the arithmetic. At most kMaxCached bytes are kept (release_workspace() frees them).
class WorkspaceCache {
 public:
  static constexpr size_t kMaxCached = size_t(1) << 30;

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = free_.find(bytes);
    if (found == free_.end()) return nullptr;
    void* ptr = found->second;
    free_.erase(found);
    cached_ -= bytes;
    return ptr;
  }
  void give(void* ptr, size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (cached_ + bytes <= kMaxCached) {
        free_.emplace(bytes, ptr);
        cached_ += bytes;
        return;
      }
    }
    std::free(ptr);
  }
  int64_t release() {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto released = static_cast<int64_t>(cached_);
    for (auto& entry : free_) std::free(entry.second);
    free_.clear();
    cached_ = 0;
    return released;
  }

 private:
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_ = 0;
};

inline WorkspaceCache& workspace_cache() {
  static auto* cache = new WorkspaceCache();  // never destroyed: buffers may be freed during interpreter exit
  return *cache;
}

inline at::Tensor workspace(at::IntArrayRef shape, const at::TensorOptions& options) {
  int64_t count = 1;
  for (auto size : shape) count *= size;
  const size_t bytes = static_cast<size_t>(count) * options.dtype().itemsize();
  constexpr size_t kHuge = size_t(2) << 20;
  if (bytes < 2 * kHuge) return at::empty(shape, options);
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* ptr = workspace_cache().take(rounded);
  if (ptr == nullptr) {
    if (posix_memalign(&ptr, kHuge, rounded) != 0) return at::empty(shape, options);
#ifdef MADV_HUGEPAGE
    madvise(ptr, rounded, MADV_HUGEPAGE);
#endif
  }
  return at::from_blob(ptr, shape, [rounded](void* data) { workspace_cache().give(data, rounded); }, options);
}

inline at::Tensor empty_like_shape(const at::Tensor& like, at::IntArrayRef shape) {
  return at::empty(shape, like.options());
}

inline at::Tensor nothing(const at::Tensor& like) { return at::empty({0}, like.options()); }

inline at::Tensor contiguous_or_empty(const c10::optional<at::Tensor>& t, const at::Tensor& like) {
  return t && t->defined() ? t->contiguous() : nothing(like);
}

}  // namespace rnnkit
