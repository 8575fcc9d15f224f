#include "train/out_of_memory.hpp"

#include <c10/util/Exception.h>

#include <new>

namespace scalebench {

bool is_out_of_memory(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr) return true;
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) return true;
  // The autograd engine and the CPU allocator report allocation failures as plain c10::Errors
  // (or re-thrown runtime_errors) whose text is all that is left of their kind.
  const std::string what = e.what();
  for (const char* marker : {"out of memory", "not enough memory", "std::bad_alloc",
                             "can't allocate memory", "Cannot allocate memory"}) {
    if (what.find(marker) != std::string::npos) return true;
  }
  return false;
}

}  // namespace scalebench
