// infercore._core: the thin binding. It imports tensors through DLPack, lets
// the core validate and compute, and translates the core's errors; policy
// (allocating results, finding the caller's stream) lives in python/infercore.
#include <pybind11/pybind11.h>

#include <climits>
#include <optional>
#include <string>
#include <vector>

#include "dlpack_import.h"
#include "infercore/build_info.h"
#include "infercore/errors.h"
#include "infercore/ops.h"

namespace py = pybind11;
using infercore::python::ImportedTensor;
using infercore::python::import_tensor;

namespace {

uintptr_t to_stream(py::handle stream) {
  return stream.is_none() ? 0 : stream.cast<uintptr_t>();
}

std::optional<float> to_scale(py::handle scale) {
  if (scale.is_none()) return std::nullopt;
  const double value = PyFloat_AsDouble(scale.ptr());
  if (value == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw infercore::ArgumentError(
        infercore::ErrorKind::kTypeError,
        std::string("scale: expected a number or None, got ") + Py_TYPE(scale.ptr())->tp_name);
  }
  return static_cast<float>(value);
}

py::tuple to_tuple(const std::vector<int64_t>& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

// The array to write: `out` itself, or what empty(shape, like) allocates.
// shape() validates the inputs, so nothing is allocated for bad ones.
template <class ShapeFn>
py::object output_array(py::handle out, py::handle empty, py::handle like, ShapeFn shape) {
  if (!out.is_none()) return py::reinterpret_borrow<py::object>(out);
  return empty(to_tuple(shape()), like);
}

// The core's fallbacks (e.g. the reference kernel on a GPU without fast
// kernels) reach the user as a Python RuntimeWarning.
void warn(const infercore::Dispatch& d) {
  if (!d.warning.empty() && PyErr_WarnEx(PyExc_RuntimeWarning, d.warning.c_str(), 2) != 0) {
    throw py::error_already_set();
  }
}

py::object attention(py::handle q, py::handle k, py::handle v, bool causal, py::handle scale,
                     py::handle out, py::handle stream, py::handle empty,
                     const std::string& backend, py::handle exporter) {
  const uintptr_t s = to_stream(stream);
  const std::optional<float> softmax_scale = to_scale(scale);
  const ImportedTensor tq = import_tensor(q, "q", s, exporter);
  const ImportedTensor tk = import_tensor(k, "k", s, exporter);
  const ImportedTensor tv = import_tensor(v, "v", s, exporter);
  py::object result = output_array(out, empty, q, [&] {
    return infercore::attention_output_shape(tq.view(), tk.view(), tv.view());
  });
  const ImportedTensor tout = import_tensor(result, "out", s, exporter);
  infercore::Dispatch used;
  {
    py::gil_scoped_release release;
    used = infercore::attention(tq.view(), tk.view(), tv.view(), tout.view(), causal,
                                softmax_scale, reinterpret_cast<void*>(s), backend);
  }
  warn(used);
  return result;
}

py::object gemm(py::handle a, py::handle b, py::handle out, py::handle stream, py::handle empty,
                const std::string& backend, py::handle exporter) {
  const uintptr_t s = to_stream(stream);
  const ImportedTensor ta = import_tensor(a, "a", s, exporter);
  const ImportedTensor tb = import_tensor(b, "b", s, exporter);
  py::object result = output_array(
      out, empty, a, [&] { return infercore::gemm_output_shape(ta.view(), tb.view()); });
  const ImportedTensor tout = import_tensor(result, "out", s, exporter);
  infercore::Dispatch used;
  {
    py::gil_scoped_release release;
    used = infercore::gemm(ta.view(), tb.view(), tout.view(), reinterpret_cast<void*>(s), backend);
  }
  warn(used);
  return result;
}

infercore::DType parse_dtype(const std::string& name) {
  if (name == "bfloat16" || name == "bf16") return infercore::DType::kBFloat16;
  if (name == "float16" || name == "fp16") return infercore::DType::kFloat16;
  if (name == "float32" || name == "fp32") return infercore::DType::kFloat32;
  throw infercore::ArgumentError(infercore::ErrorKind::kValueError,
                                 "dtype: expected 'bfloat16', 'float16' or 'float32', got '" +
                                     name + "'");
}

std::string attention_backend(int device, const std::string& dtype, int64_t headdim, bool causal,
                              int64_t seqlen_q, int64_t seqlen_k, int64_t nheads,
                              int64_t nheads_kv, int64_t batch) {
  return infercore::attention_backend(device, parse_dtype(dtype), headdim, causal, seqlen_q,
                                      seqlen_k, nheads, nheads_kv, batch);
}

py::list to_list(const std::vector<std::string>& items) {
  py::list list;
  for (const std::string& item : items) list.append(item);
  return list;
}

py::list to_dicts(const std::vector<infercore::KernelInfo>& kernels, bool attention) {
  py::list list;
  for (const infercore::KernelInfo& k : kernels) {
    py::dict d;
    d["backend"] = k.backend;
    d["dtype"] = k.dtype == "bf16" ? "bfloat16" : "float16";
    if (attention) {
      d["headdim"] = k.headdim;
      d["causal"] = k.causal;
      d["split_kv"] = k.split_kv;
      // fa4 compiles the query-heads-per-KV-head ratio in; None: any ratio.
      d["heads_ratio"] = k.heads_ratio > 0 ? py::object(py::int_(k.heads_ratio)) : py::none();
    }
    d["cc_min"] = k.cc_min;
    d["cc_max"] = k.cc_max;
    d["library"] = k.library;
    list.append(d);
  }
  return list;
}

py::dict build_info() {
  const infercore::BuildInfo& b = infercore::build_info();
  py::dict cuda;
  cuda["enabled"] = b.cuda_enabled;
  cuda["version"] = b.cuda_version;
  cuda["compiler"] = b.cuda_compiler;
  cuda["flags"] = b.cuda_flags;
  cuda["sass_archs"] = to_list(b.cuda_sass_archs);
  cuda["ptx_archs"] = to_list(b.cuda_ptx_archs);
  py::dict kernels;
  kernels["libraries"] = to_list(infercore::kernel_libraries());
  kernels["attention"] = to_dicts(infercore::attention_kernels(), true);
  kernels["gemm"] = to_dicts(infercore::gemm_kernels(), false);
  // What "auto" runs on Hopper where fa4 and fmha-sm90 both could (dispatch.h's table).
  py::list rules;
  for (const infercore::HopperAttentionRuleInfo& r : infercore::hopper_attention_rules()) {
    py::dict d;
    d["backend"] = r.backend;
    d["causal"] = r.causal < 0 ? py::object(py::none()) : py::object(py::bool_(r.causal != 0));
    d["min_seqlen_q"] = r.min_seqlen_q;
    d["max_seqlen_q"] = r.max_seqlen_q == INT_MAX ? py::object(py::none())
                                                   : py::object(py::int_(r.max_seqlen_q));
    d["headdim"] = r.headdim == 0 ? py::object(py::none()) : py::object(py::int_(r.headdim));
    rules.append(d);
  }
  kernels["hopper_rules"] = rules;
  // A named slot (docs/KERNELS.md): FA3's C++ sources are on no reachable registry.
  kernels["planned"] = to_list({"fa3 (FlashAttention 3, Hopper)"});
  py::dict runtime;
  runtime["cuda_device_count"] = infercore::cuda_device_count();
  runtime["cpu_isa"] = infercore::cpu_isa();
  runtime["cpu_num_threads"] = infercore::cpu_num_threads();
  py::dict info;
  info["version"] = b.version;
  info["git_sha"] = b.git_sha;
  info["build_type"] = b.build_type;
  info["compiler"] = b.cxx_compiler;
  info["cxx_flags"] = b.cxx_flags;
  info["cuda"] = cuda;
  info["kernels"] = kernels;
  info["python"] = std::to_string(PY_MAJOR_VERSION) + "." + std::to_string(PY_MINOR_VERSION);
  info["runtime"] = runtime;
  return info;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "infercore's compiled core; use the functions of the infercore package instead.";
  m.attr("__version__") = infercore::build_info().version;

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const infercore::ArgumentError& e) {
      PyErr_SetString(e.kind() == infercore::ErrorKind::kTypeError ? PyExc_TypeError
                                                                    : PyExc_ValueError,
                      e.what());
    } catch (const infercore::CudaError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("attention", &attention, py::arg("q"), py::arg("k"), py::arg("v"), py::arg("causal"),
        py::arg("scale"), py::arg("out"), py::arg("stream"), py::arg("empty"),
        py::arg("backend"), py::arg("exporter"));
  m.def("gemm", &gemm, py::arg("a"), py::arg("b"), py::arg("out"), py::arg("stream"),
        py::arg("empty"), py::arg("backend"), py::arg("exporter"));
  m.def("attention_backend", &attention_backend, py::arg("device"), py::arg("dtype"),
        py::arg("headdim"), py::arg("causal"), py::arg("seqlen_q"), py::arg("seqlen_k"),
        py::arg("nheads"), py::arg("nheads_kv"), py::arg("batch"));
  m.def("build_info", &build_info);
  m.def("cuda_device_count", &infercore::cuda_device_count);
  m.def("cuda_compute_capability", &infercore::cuda_compute_capability,
        py::arg("device_index"));
}
