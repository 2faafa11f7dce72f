// rnnkit's CPU kernels: one library, registered as torch.ops.rnnkit_cpu.*; built on first use by
// rnnkit/backends/fused/build.py. Each op runs a whole sequence (all time steps) in compiled code.
#include "common.h"
#include "gru.h"
#include "linear.h"
#include "lstm.h"
#include "scan.h"
#include "simple.h"

namespace rnnkit {
namespace {

using OptT = c10::optional<at::Tensor>;

void check_input(const at::Tensor& projected, const at::Tensor& h0, int64_t gates) {
  TORCH_CHECK(projected.device().is_cpu() && projected.dim() == 3 && projected.is_contiguous(),
              "rnnkit kernels: projected input must be a contiguous CPU tensor (T, B, G)");
  TORCH_CHECK(h0.dim() == 2 && h0.size(0) == projected.size(1) && projected.size(2) == gates * h0.size(1),
              "rnnkit kernels: state (B, H) does not match the projected input (T, B, ", gates, "H)");
}

at::Tensor def(const OptT& t, const at::Tensor& like) { return contiguous_or_empty(t, like); }

std::vector<at::Tensor> lstm_forward(const at::Tensor& projected, const at::Tensor& h0, const at::Tensor& c0,
                                     const at::Tensor& weight_hh, const OptT& norm_hh, const OptT& norm_c_weight,
                                     const OptT& norm_c_bias, double eps, const OptT& lengths, const OptT& var_mask,
                                     const OptT& zone_h, double rate_h, const OptT& zone_c, double rate_c,
                                     bool save) {
  check_input(projected, h0, 4);
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "rnnkit_lstm_forward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, zone_c, rate_c, projected.size(1),
                                    h0.size(1));
    result = lstm_forward_t<scalar_t>(projected, h0, c0, weight_hh.contiguous(), def(norm_hh, projected),
                                      def(norm_c_weight, projected), def(norm_c_bias, projected),
                                      static_cast<scalar_t>(eps), o, save);
  });
  return result;
}

std::vector<at::Tensor> lstm_backward(const at::Tensor& grad_out, const at::Tensor& grad_h, const at::Tensor& grad_c,
                                      const at::Tensor& weight_hh, const OptT& norm_hh, const OptT& norm_c_weight,
                                      const OptT& lengths, const OptT& var_mask, const OptT& zone_h, double rate_h,
                                      const OptT& zone_c, double rate_c, at::TensorList saved) {
  TORCH_CHECK(saved.size() == 8, "rnnkit kernels: lstm_backward expects the 8 saved tensors of lstm_forward");
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "rnnkit_lstm_backward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, zone_c, rate_c, grad_out.size(1),
                                    grad_out.size(2));
    result = lstm_backward_t<scalar_t>(grad_out.contiguous(), grad_h, grad_c, weight_hh.contiguous(),
                                       def(norm_hh, grad_out), def(norm_c_weight, grad_out), o, saved[0], saved[1],
                                       saved[2], saved[3], saved[4], saved[5], saved[6], saved[7]);
  });
  return result;
}

std::vector<at::Tensor> gru_forward(const at::Tensor& projected, const at::Tensor& h0, const at::Tensor& weight_hh,
                                    const OptT& bias_hh, const OptT& norm_hh, double eps, const OptT& lengths,
                                    const OptT& var_mask, const OptT& zone_h, double rate_h, bool save) {
  check_input(projected, h0, 3);
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "rnnkit_gru_forward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, c10::nullopt, 0.0, projected.size(1),
                                    h0.size(1));
    result = gru_forward_t<scalar_t>(projected, h0, weight_hh.contiguous(), def(bias_hh, projected),
                                     def(norm_hh, projected), static_cast<scalar_t>(eps), o, save);
  });
  return result;
}

std::vector<at::Tensor> gru_backward(const at::Tensor& grad_out, const at::Tensor& grad_h, const at::Tensor& weight_hh,
                                     const OptT& norm_hh, bool has_bias, const OptT& lengths, const OptT& var_mask,
                                     const OptT& zone_h, double rate_h, at::TensorList saved) {
  TORCH_CHECK(saved.size() == 5, "rnnkit kernels: gru_backward expects the 5 saved tensors of gru_forward");
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "rnnkit_gru_backward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, c10::nullopt, 0.0, grad_out.size(1),
                                    grad_out.size(2));
    result = gru_backward_t<scalar_t>(grad_out.contiguous(), grad_h, weight_hh.contiguous(), def(norm_hh, grad_out),
                                      has_bias, o, saved[0], saved[1], saved[2], saved[3], saved[4]);
  });
  return result;
}

std::vector<at::Tensor> simple_forward(const at::Tensor& projected, const at::Tensor& h0, const at::Tensor& weight_hh,
                                       bool relu, const OptT& lengths, const OptT& var_mask, const OptT& zone_h,
                                       double rate_h, bool save) {
  check_input(projected, h0, 1);
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "rnnkit_simple_forward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, c10::nullopt, 0.0, projected.size(1),
                                    h0.size(1));
    result = simple_forward_t<scalar_t>(projected, h0, weight_hh.contiguous(), relu, o, save);
  });
  return result;
}

std::vector<at::Tensor> simple_backward(const at::Tensor& grad_out, const at::Tensor& grad_h,
                                        const at::Tensor& weight_hh, bool relu, const OptT& lengths,
                                        const OptT& var_mask, const OptT& zone_h, double rate_h,
                                        at::TensorList saved) {
  TORCH_CHECK(saved.size() == 2, "rnnkit kernels: simple_backward expects the 2 saved tensors of simple_forward");
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(grad_out.scalar_type(), "rnnkit_simple_backward", [&] {
    auto o = make_options<scalar_t>(lengths, var_mask, zone_h, rate_h, c10::nullopt, 0.0, grad_out.size(1),
                                    grad_out.size(2));
    result = simple_backward_t<scalar_t>(grad_out.contiguous(), grad_h, weight_hh.contiguous(), relu, o, saved[0],
                                         saved[1]);
  });
  return result;
}

// a, b: (T, ...) real, or complex viewed as real with a trailing pair axis; h0: b's shape without time.
at::Tensor scan_forward(const at::Tensor& a, const at::Tensor& b, const at::Tensor& h0, bool complex) {
  TORCH_CHECK(a.sizes() == b.sizes() && a.is_contiguous() && b.is_contiguous() && h0.is_contiguous(),
              "rnnkit kernels: scan needs contiguous a and b of one shape and a contiguous h0");
  at::Tensor h;
  AT_DISPATCH_FLOATING_TYPES(b.scalar_type(), "rnnkit_scan_forward",
                             [&] { h = scan_forward_t<scalar_t>(a, b, h0, complex); });
  return h;
}

std::vector<at::Tensor> scan_backward(const at::Tensor& grad, const at::Tensor& a, const at::Tensor& h,
                                      const at::Tensor& h0, bool complex) {
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "rnnkit_scan_backward", [&] {
    result = scan_backward_t<scalar_t>(grad.contiguous(), a, h, h0, complex);
  });
  return result;
}

at::Tensor min_forward(const at::Tensor& projected, const at::Tensor& h0, bool lstm) {
  check_input(projected, h0, lstm ? 3 : 2);
  at::Tensor h;
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "rnnkit_min_forward", [&] {
    auto state = h0.contiguous();
    h = lstm ? min_forward_t<scalar_t, true>(projected, state) : min_forward_t<scalar_t, false>(projected, state);
  });
  return h;
}

std::vector<at::Tensor> min_backward(const at::Tensor& grad, const at::Tensor& projected, const at::Tensor& h,
                                     const at::Tensor& h0, bool lstm) {
  std::vector<at::Tensor> result;
  AT_DISPATCH_FLOATING_TYPES(projected.scalar_type(), "rnnkit_min_backward", [&] {
    auto g = grad.contiguous();
    auto state = h0.contiguous();
    result = lstm ? min_backward_t<scalar_t, true>(g, projected, h, state)
                  : min_backward_t<scalar_t, false>(g, projected, h, state);
  });
  return result;
}

int64_t release_workspace() { return workspace_cache().release(); }

bool has_blas() { return find_sgemm() != nullptr && find_dgemm() != nullptr; }

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY(rnnkit_cpu, m) {
  m.def("lstm_forward(Tensor projected, Tensor h0, Tensor c0, Tensor weight_hh, Tensor? norm_hh, "
        "Tensor? norm_c_weight, Tensor? norm_c_bias, float eps, Tensor? lengths, Tensor? var_mask, "
        "Tensor? zone_h, float rate_h, Tensor? zone_c, float rate_c, bool save) -> Tensor[]",
        &rnnkit::lstm_forward);
  m.def("lstm_backward(Tensor grad_out, Tensor grad_h, Tensor grad_c, Tensor weight_hh, Tensor? norm_hh, "
        "Tensor? norm_c_weight, Tensor? lengths, Tensor? var_mask, Tensor? zone_h, float rate_h, "
        "Tensor? zone_c, float rate_c, Tensor[] saved) -> Tensor[]",
        &rnnkit::lstm_backward);
  m.def("gru_forward(Tensor projected, Tensor h0, Tensor weight_hh, Tensor? bias_hh, Tensor? norm_hh, float eps, "
        "Tensor? lengths, Tensor? var_mask, Tensor? zone_h, float rate_h, bool save) -> Tensor[]",
        &rnnkit::gru_forward);
  m.def("gru_backward(Tensor grad_out, Tensor grad_h, Tensor weight_hh, Tensor? norm_hh, bool has_bias, "
        "Tensor? lengths, Tensor? var_mask, Tensor? zone_h, float rate_h, Tensor[] saved) -> Tensor[]",
        &rnnkit::gru_backward);
  m.def("simple_forward(Tensor projected, Tensor h0, Tensor weight_hh, bool relu, Tensor? lengths, "
        "Tensor? var_mask, Tensor? zone_h, float rate_h, bool save) -> Tensor[]",
        &rnnkit::simple_forward);
  m.def("simple_backward(Tensor grad_out, Tensor grad_h, Tensor weight_hh, bool relu, Tensor? lengths, "
        "Tensor? var_mask, Tensor? zone_h, float rate_h, Tensor[] saved) -> Tensor[]",
        &rnnkit::simple_backward);
  m.def("scan_forward(Tensor a, Tensor b, Tensor h0, bool complex) -> Tensor", &rnnkit::scan_forward);
  m.def("scan_backward(Tensor grad, Tensor a, Tensor h, Tensor h0, bool complex) -> Tensor[]",
        &rnnkit::scan_backward);
  m.def("min_forward(Tensor projected, Tensor h0, bool lstm) -> Tensor", &rnnkit::min_forward);
  m.def("min_backward(Tensor grad, Tensor projected, Tensor h, Tensor h0, bool lstm) -> Tensor[]",
        &rnnkit::min_backward);
  m.def("has_blas() -> bool", &rnnkit::has_blas);
  m.def("release_workspace() -> int", &rnnkit::release_workspace);
}
