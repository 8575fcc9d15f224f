#include "runtime/math_libraries.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

#include <ATen/Parallel.h>
#include <torch/torch.h>

namespace scalebench {
namespace {

// The shared object that provides `symbol` to the process, as the dynamic linker resolves it for
// LibTorch: the first in global lookup order. "" when no loaded object exports it.
std::string provider_of(const char* symbol) {
  void* address = dlsym(RTLD_DEFAULT, symbol);
  Dl_info info{};
  if (address == nullptr || dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "";
  std::error_code ec;
  const std::filesystem::path resolved = std::filesystem::canonical(info.dli_fname, ec);
  return ec ? std::string(info.dli_fname) : resolved.string();
}

// A symbol of that very library (already loaded: RTLD_NOLOAD never loads anything).
void* symbol_in(const std::string& library, const char* symbol) {
  if (library.empty()) return nullptr;
  void* handle = dlopen(library.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  if (handle == nullptr) return nullptr;
  void* s = dlsym(handle, symbol);
  dlclose(handle);  // drops the reference RTLD_NOLOAD took; the library stays loaded
  return s;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

// "OpenBLAS 0.3.21 (openmp)", "BLIS 0.9.0", "Intel MKL ...", "reference BLAS (netlib)", or the
// file name for anything else. `what` is "BLAS" or "LAPACK".
std::string describe_library(const std::string& path, const char* what, bool* is_reference) {
  *is_reference = false;
  if (path.empty()) return "none loaded";
  if (auto* config = reinterpret_cast<char* (*)()>(symbol_in(path, "openblas_get_config"))) {
    std::string text = config();  // "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
    const auto second_space = text.find(' ', text.find(' ') + 1);
    std::string name = text.substr(0, second_space);
    if (auto* parallel = reinterpret_cast<int (*)()>(symbol_in(path, "openblas_get_parallel"))) {
      const int mode = parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
      name += mode == 2 ? " (openmp)" : mode == 1 ? " (pthread)" : " (serial)";
    }
    return name;
  }
  if (auto* version = reinterpret_cast<const char* (*)()>(symbol_in(path, "bli_info_get_version_str"))) {
    return std::string("BLIS ") + version();
  }
  if (auto* mkl = reinterpret_cast<void (*)(char*, int)>(symbol_in(path, "MKL_Get_Version_String"))) {
    char buffer[256] = {};
    mkl(buffer, sizeof buffer - 1);
    return buffer;
  }
  if (contains(path, "atlas")) return std::string("ATLAS ") + what;
  // Debian's reference implementations live in .../blas/ and .../lapack/ (alternatives' targets).
  const std::string file = std::filesystem::path(path).filename().string();
  const std::string dir = std::filesystem::path(path).parent_path().filename().string();
  if ((contains(file, "libblas.so") && dir == "blas") || (contains(file, "liblapack.so") && dir == "lapack")) {
    *is_reference = true;
    return std::string("reference ") + what + " (netlib)";
  }
  return file;
}

int omp_max_threads() {
  // Whatever OpenMP runtime LibTorch loaded (libgomp for Debian's); scalebench does not link one.
  auto* get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return get ? get() : 0;
}

}  // namespace

MathLibraries detect_math_libraries() {
  MathLibraries m;
  m.blas_library = provider_of("sgemm_");
  m.blas = describe_library(m.blas_library, "BLAS", &m.blas_is_reference);
  m.lapack_library = provider_of("sgetrf_");
  bool lapack_reference = false;
  m.lapack = describe_library(m.lapack_library, "LAPACK", &lapack_reference);
  auto& ctx = at::globalContext();
  m.onednn = at::hasMKLDNN() && ctx.userEnabledMkldnn();
  m.intra_op_threads = at::get_num_threads();
  m.inter_op_threads = at::get_num_interop_threads();
  m.omp_max_threads = omp_max_threads();
  m.tf32_matmul = ctx.allowTF32CuBLAS();
  m.tf32_cudnn = ctx.allowTF32CuDNN();
  m.cudnn_benchmark = ctx.benchmarkCuDNN();
  m.cudnn_deterministic = ctx.deterministicCuDNN();
  return m;
}

std::string effective_precision(const MathLibraries& m, bool cuda) {
  if (!cuda) return "fp32";
  if (m.tf32_matmul && m.tf32_cudnn) return "fp32 (matrix products and convolutions in TF32)";
  if (m.tf32_cudnn) return "fp32 (convolutions in TF32)";
  if (m.tf32_matmul) return "fp32 (matrix products in TF32)";
  return "fp32";
}

std::string reference_blas_warning(const MathLibraries& m) {
  if (!m.blas_is_reference) return "";
  return "LibTorch computes with the reference (netlib) BLAS, " + m.blas_library +
         ": CPU matrix products run many times slower than with an optimised BLAS (OpenBLAS, BLIS), "
         "so CPU figures are not representative; on Debian `apt-get install libopenblas0-openmp` "
         "switches libblas.so.3";
}

nlohmann::json to_json(const MathLibraries& m) {
  return {{"blas", m.blas},
          {"blas_library", m.blas_library},
          {"lapack", m.lapack},
          {"lapack_library", m.lapack_library},
          {"onednn", m.onednn},
          {"intra_op_threads", m.intra_op_threads},
          {"inter_op_threads", m.inter_op_threads},
          {"omp_max_threads", m.omp_max_threads},
          {"tf32_matmul", m.tf32_matmul},
          {"tf32_cudnn", m.tf32_cudnn},
          {"cudnn_benchmark", m.cudnn_benchmark},
          {"cudnn_deterministic", m.cudnn_deterministic},
          {"autocast", m.autocast}};
}

}  // namespace scalebench
