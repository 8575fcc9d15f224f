#pragma once
#include <string>

namespace scalebench::io {
// The HDF5 library this binary runs with, e.g. "1.10.8".
std::string hdf5_version();
}  // namespace scalebench::io
