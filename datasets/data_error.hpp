#pragma once
// The error every dataset reader throws. It is in its own header, free of torch, so that the byte
// parsers (IDX, CIFAR-10) can be compiled alone into the libFuzzer targets of fuzz/.
#include "core/errors.hpp"

namespace scalebench::datasets {

// Bad input data: reported like a bad option (one line from rank 0, exit 2). The message always
// starts with the file or folder concerned, then says what is wrong with it.
class DataError : public UsageError {
 public:
  using UsageError::UsageError;
};

}  // namespace scalebench::datasets
