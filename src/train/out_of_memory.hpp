#pragma once
// Running out of memory is a result of a scaling study (the batch does not fit this device), not a
// crash. LibTorch reports it in several ways: std::bad_alloc from host allocations, a c10::Error
// ("DefaultCPUAllocator: not enough memory") from its CPU allocator, c10::OutOfMemoryError ("CUDA
// out of memory") from its CUDA caching allocator, or any of those re-wrapped by the autograd
// engine when they happen in backward. This header recognises all of them.
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>

namespace scalebench {

// True when `e` (or the message it carries) is an allocation failure.
bool is_out_of_memory(const std::exception& e);

// Thrown by Trainer::step after a step ran out of memory on this rank *and* this rank has taken
// its part in every collective the step would have made (zero gradients), so that the other ranks
// are not left waiting. The caller then agrees with the other ranks to stop.
class StepOutOfMemory : public std::runtime_error {
 public:
  StepOutOfMemory(std::int64_t step, std::string phase, const std::string& what)
      : std::runtime_error(what), step_(step), phase_(std::move(phase)) {}
  std::int64_t step() const { return step_; }
  const std::string& phase() const { return phase_; }  // data, forward, backward, optimizer, ...

 private:
  std::int64_t step_;
  std::string phase_;
};

}  // namespace scalebench
