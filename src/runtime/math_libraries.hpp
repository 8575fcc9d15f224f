#pragma once
// The math libraries a run actually computed with, read from the running process rather than from
// what the binary was linked against: Debian links LibTorch to libblas.so.3 and switches that name
// between the reference (netlib) BLAS, OpenBLAS and BLIS with update-alternatives, and the choice
// changes CPU step times by an order of magnitude (docs/performance.md). Also the settings that
// change what "fp32" means on a GPU (TF32) and how many threads compute.
#include <string>

#include <nlohmann/json.hpp>

namespace scalebench {

struct MathLibraries {
  std::string blas;            // "OpenBLAS 0.3.21 (openmp)", "reference BLAS (netlib)", "BLIS 0.9.0", ...
  std::string blas_library;    // resolved path of the library that provides sgemm_ ("" if none)
  bool blas_is_reference = false;  // netlib's reference implementation: correct, and very slow
  std::string lapack;          // likewise for sgetrf_
  std::string lapack_library;
  bool onednn = false;         // LibTorch built with oneDNN (MKL-DNN) and it is enabled
  int intra_op_threads = 0;    // at::get_num_threads()
  int inter_op_threads = 0;    // at::get_num_interop_threads()
  int omp_max_threads = 0;     // omp_get_max_threads() of the OpenMP runtime LibTorch loaded; 0 if none
  // The math modes of LibTorch's global context (they matter on CUDA only; recorded everywhere so
  // that a file says what its figures were computed with).
  bool tf32_matmul = false;          // cuBLAS may use TF32 for fp32 matrix products
  bool tf32_cudnn = false;           // cuDNN may use TF32 for fp32 convolutions (LibTorch's default: yes)
  bool cudnn_benchmark = false;      // cuDNN autotunes algorithms per shape
  bool cudnn_deterministic = false;  // cuDNN restricted to deterministic algorithms
  std::string autocast = "none";     // mixed precision: scalebench trains in fp32 without autocast
};

// Reads the process as it is now (call after LibTorch's thread settings are applied).
MathLibraries detect_math_libraries();

// The effective precision of the training math on `cuda` or CPU, e.g. "fp32" or
// "fp32 (convolutions in TF32)".
std::string effective_precision(const MathLibraries& m, bool cuda);

// The warning a run on the reference BLAS prints once ("" when the BLAS is not the reference one).
std::string reference_blas_warning(const MathLibraries& m);

nlohmann::json to_json(const MathLibraries& m);

}  // namespace scalebench
