# Finds CUDA and NCCL for the GPU backend. Either may be absent (a laptop, CI without GPU): the
# project then builds the CPU/MPI backend only. With a pip torch, NCCL is also looked for in the
# nvidia-nccl wheel beside torch (NCCL_ROOT or the nvidia/nccl folder of site-packages).
set(SCALEBENCH_HAVE_CUDA OFF)
set(SCALEBENCH_HAVE_NCCL OFF)
if(NOT SCALEBENCH_WITH_CUDA)
  return()
endif()

find_package(CUDAToolkit QUIET)
if(NOT CUDAToolkit_FOUND)
  message(STATUS "CUDA toolkit not found: building without the CUDA/NCCL backend")
  return()
endif()
set(SCALEBENCH_HAVE_CUDA ON)

set(_nccl_hints ${NCCL_ROOT} $ENV{NCCL_ROOT} $ENV{NCCL_HOME} ${CUDAToolkit_LIBRARY_ROOT}
                ${CUDAToolkit_TARGET_DIR})
if(Torch_DIR)
  # <site-packages>/torch/share/cmake/Torch -> <site-packages>/nvidia/nccl
  get_filename_component(_site "${Torch_DIR}/../../../.." ABSOLUTE)
  list(APPEND _nccl_hints "${_site}/nvidia/nccl")
endif()
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${_nccl_hints} PATH_SUFFIXES include)
find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_hints} PATH_SUFFIXES lib lib64)
if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
  message(STATUS "NCCL not found (set NCCL_ROOT): building CUDA without the NCCL backend")
  return()
endif()
file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_ver REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
string(REGEX REPLACE ".*NCCL_MAJOR ([0-9]+).*NCCL_MINOR ([0-9]+).*NCCL_PATCH ([0-9]+).*" "\\1.\\2.\\3"
       NCCL_VERSION "${_nccl_ver}")
add_library(scalebench::nccl UNKNOWN IMPORTED)
set_target_properties(scalebench::nccl PROPERTIES IMPORTED_LOCATION "${NCCL_LIBRARY}"
                      INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
set(SCALEBENCH_HAVE_NCCL ON)
