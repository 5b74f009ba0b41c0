// Helpers of the C++ tests: float buffers viewed as TensorViews, seeded random
// data, and double-precision references the CPU kernels are checked against.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "infercore/tensor.h"

namespace infercore::testing {

inline int64_t count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// A contiguous float32 CPU tensor that owns its data.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  explicit Tensor(std::vector<int64_t> s, float fill = 0.0f)
      : shape(std::move(s)), data(static_cast<size_t>(count(shape)), fill) {}

  TensorView view(const std::string& name) {
    TensorView v;
    v.data = data.data();
    v.dtype = DType::kFloat32;
    v.shape = shape;
    v.name = name;
    return v;
  }
};

inline Tensor random_tensor(std::vector<int64_t> shape, uint32_t seed) {
  Tensor t(std::move(shape));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& x : t.data) x = dist(gen);
  return t;
}

// Attention in double precision, straight from the definition (FlashAttention
// layout; causal rows see keys j <= i + seqlen_k - seqlen_q; a row that sees
// no key is zero).
inline std::vector<double> attention_reference(const Tensor& q, const Tensor& k, const Tensor& v,
                                               bool causal, double scale) {
  const int64_t b_n = q.shape[0], sq = q.shape[1], h_n = q.shape[2], d = q.shape[3];
  const int64_t sk = k.shape[1], hk_n = k.shape[2];
  std::vector<double> out(q.data.size(), 0.0);
  std::vector<double> p(static_cast<size_t>(sk));
  for (int64_t b = 0; b < b_n; ++b) {
    for (int64_t h = 0; h < h_n; ++h) {
      const int64_t hk = h / (h_n / hk_n);
      for (int64_t i = 0; i < sq; ++i) {
        const int64_t visible = causal ? std::clamp<int64_t>(i + sk - sq + 1, 0, sk) : sk;
        if (visible == 0) continue;
        const float* qi = &q.data[((b * sq + i) * h_n + h) * d];
        double max = -INFINITY, sum = 0.0;
        for (int64_t j = 0; j < visible; ++j) {
          const float* kj = &k.data[((b * sk + j) * hk_n + hk) * d];
          double s = 0.0;
          for (int64_t c = 0; c < d; ++c) s += double(qi[c]) * kj[c];
          p[j] = s * scale;
          max = std::max(max, p[j]);
        }
        for (int64_t j = 0; j < visible; ++j) sum += (p[j] = std::exp(p[j] - max));
        double* oi = &out[((b * sq + i) * h_n + h) * d];
        for (int64_t j = 0; j < visible; ++j) {
          const float* vj = &v.data[((b * sk + j) * hk_n + hk) * d];
          for (int64_t c = 0; c < d; ++c) oi[c] += p[j] / sum * vj[c];
        }
      }
    }
  }
  return out;
}

inline std::vector<double> gemm_reference(const Tensor& a, const Tensor& b) {
  const int64_t m = a.shape[0], k = a.shape[1], n = b.shape[1];
  std::vector<double> c(static_cast<size_t>(m * n), 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t p = 0; p < k; ++p) {
      const double x = a.data[i * k + p];
      for (int64_t j = 0; j < n; ++j) c[i * n + j] += x * b.data[p * n + j];
    }
  }
  return c;
}

// The largest |got - want| / (atol + rtol * |want|): at most 1 passes.
inline double error_ratio(const std::vector<float>& got, const std::vector<double>& want,
                          double atol, double rtol) {
  double worst = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
    worst = std::max(worst, std::isnan(err) ? INFINITY : err);
  }
  return worst;
}

}  // namespace infercore::testing
