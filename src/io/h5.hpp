#pragma once
// Thin RAII layer over the HDF5 C API: every id is owned by a move-only Handle, every call that
// can fail goes through H5_CHECK and throws a message with the call, the source line, the rank
// and HDF5's own reason. Only what scalebench's run file needs is wrapped: scalar attributes,
// datasets that grow along their first dimension, small fixed 1-D datasets, and whole-dataset
// readers (for tests and tools).
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace scalebench::h5 {

namespace detail {
// Turns HDF5's automatic printing of its error stack off (once per process), so that a failure is
// reported once, by our exception, and not also as a stack dump on stderr.
void silence_auto_print();
// The innermost (most specific) description on HDF5's error stack, or a pointer to the stack.
std::string error_stack_top();
[[noreturn]] void fail(const char* call, const char* file, int line, const std::string& where);
}  // namespace detail

// Evaluates `call` (returning herr_t, hid_t, htri_t or another signed status); a negative result
// throws "HDF5 call CALL failed at FILE:LINE on rank R on HOST: WHERE: REASON". `where` names the
// file or object involved and is evaluated only on failure. Both macros yield the call's result.
#define H5_CHECK(call) SCALEBENCH_H5_CHECK_IMPL(call, #call, std::string())
#define H5_CHECK_ON(call, where) SCALEBENCH_H5_CHECK_IMPL(call, #call, where)
// `text` is stringized by the macros above, before their argument is macro-expanded (HDF5's
// H5F_ACC_* and H5T_* names are macros themselves).
#define SCALEBENCH_H5_CHECK_IMPL(call, text, where)                                             \
  ([&]() {                                                                                      \
    ::scalebench::h5::detail::silence_auto_print();                                             \
    const auto h5_check_result = (call);                                                        \
    if (h5_check_result < 0) ::scalebench::h5::detail::fail(text, __FILE__, __LINE__, (where)); \
    return h5_check_result;                                                                     \
  }())

// Owns one HDF5 id and closes it with the H5*close matching its type.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and throws if HDF5 reports a failure (the destructor has to swallow it).
  void close();

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Anything that carries attributes: file (its root group), group, dataset.
class Object {
 public:
  hid_t id() const { return handle_.id(); }
  bool is_open() const { return handle_.valid(); }
  void close() { handle_.close(); }
  // File and path of the object, e.g. "run.h5.partial:/steps/loss" (for messages).
  std::string name() const;

  // Scalar attributes; an existing attribute of that name is replaced (its type may change).
  // Strings are stored variable-length UTF-8.
  void set_attr(const std::string& attr, const std::string& value);
  void set_attr(const std::string& attr, std::int64_t value);
  void set_attr(const std::string& attr, double value);
  bool has_attr(const std::string& attr) const;
  std::string attr_string(const std::string& attr) const;
  std::int64_t attr_int64(const std::string& attr) const;
  double attr_double(const std::string& attr) const;
  // 1-D array attributes (e.g. the recorded ranks of /steps, the column names of /rank_stats).
  void set_attr(const std::string& attr, const std::vector<std::int64_t>& values);
  void set_attr(const std::string& attr, const std::vector<std::string>& values);
  std::vector<std::int64_t> attr_int64_array(const std::string& attr) const;

 protected:
  Object() = default;
  explicit Object(Handle handle) : handle_(std::move(handle)) {}

 private:
  void write_scalar_attr(const std::string& attr, hid_t file_type, hid_t mem_type,
                         const void* value);
  void read_scalar_attr(const std::string& attr, hid_t mem_type, void* value) const;
  void write_array_attr(const std::string& attr, hid_t file_type, hid_t mem_type, std::size_t n,
                        const void* values);

  Handle handle_;
};

class Dataset : public Object {
 public:
  Dataset() = default;  // not open; assign an opened or created one

  std::vector<hsize_t> dims() const;
  H5T_class_t type_class() const;  // H5T_INTEGER, H5T_FLOAT, H5T_STRING, ...
  // The names of the dataset's filters in pipeline order (e.g. "shuffle", "deflate").
  std::vector<std::string> filters() const;

  // Grows dimension 0 by `rows` and writes `values` (row-major, rows * product of the other
  // dimensions elements) into the new rows. Only for datasets made by create_appendable.
  void append(std::size_t rows, const std::vector<std::int64_t>& values);
  void append(std::size_t rows, const std::vector<double>& values);
  void append(std::size_t rows, const std::vector<std::string>& values);

  // The whole dataset, row-major (HDF5 converts from the stored numeric type).
  std::vector<std::int64_t> read_int64() const;
  std::vector<double> read_double() const;
  std::vector<std::string> read_strings() const;  // variable-length string datasets

 private:
  friend class Location;
  explicit Dataset(Handle handle) : Object(std::move(handle)) {}
  void append_raw(std::size_t rows, std::size_t n_values, hid_t mem_type, const void* values);
  void write_all(std::size_t n_values, hid_t mem_type, const void* values);
  void read_raw(hid_t mem_type, void* values) const;
  std::size_t num_elements() const;
};

enum class Type { kInt64, kFloat64, kString };
// Per-chunk filters of an appendable dataset. Shuffle + deflate (level 1: fast) suits the
// per-step tables: neighbouring steps' times differ in their low bytes only, and flags and
// counts repeat, so they shrink several-fold at little CPU cost on rank 0.
enum class Compression { kNone, kShuffleDeflate };

class Group;

// A file (its root group) or a group: the things that contain groups and datasets.
class Location : public Object {
 public:
  bool exists(const std::string& name) const;  // a direct child link of that name
  Group create_group(const std::string& name);
  Group open_group(const std::string& name) const;
  Dataset open_dataset(const std::string& name) const;

  // Chunked dataset of shape [0, row_shape...], unlimited along dimension 0, fixed elsewhere.
  Dataset create_appendable(const std::string& name, Type type,
                            const std::vector<hsize_t>& row_shape,
                            Compression compression = Compression::kNone);

  // Fixed-size 1-D datasets holding `values`.
  Dataset write_dataset(const std::string& name, const std::vector<std::int64_t>& values);
  Dataset write_dataset(const std::string& name, const std::vector<double>& values);
  Dataset write_dataset(const std::string& name, const std::vector<std::string>& values);

 protected:
  Location() = default;
  explicit Location(Handle handle) : Object(std::move(handle)) {}

 private:
  Dataset create_dataset(const std::string& name, hid_t type, hid_t space, hid_t create_props,
                         hid_t access_props = H5P_DEFAULT);
  Dataset write_1d(const std::string& name, Type type, std::size_t n, hid_t mem_type,
                   const void* values);
};

class Group : public Location {
 private:
  friend class Location;
  explicit Group(Handle handle) : Location(std::move(handle)) {}
};

enum class CreateMode {
  kExclusive,  // fail if the file exists (H5F_ACC_EXCL)
  kTruncate,   // replace an existing file (H5F_ACC_TRUNC)
};

class File : public Location {
 public:
  File() = default;  // not open
  static File create(const std::string& path, CreateMode mode);
  static File open_read_only(const std::string& path);

  // Writes every buffered chunk and all metadata, so that the file on disk is complete: a process
  // that dies before closing it leaves a readable file with everything written up to here.
  void flush();
  // Bytes HDF5's metadata cache holds for this file now (H5Fget_mdc_size): it grows with the
  // chunk index of long datasets up to the cache's adaptive maximum, then stays.
  std::size_t metadata_cache_bytes() const;

 private:
  explicit File(Handle handle) : Location(std::move(handle)) {}
};

// Chunk shape for an appendable dataset of shape [*, row_shape...]: up to 64 rows, whole rows,
// shrunk (rows first, then the other dimensions) until a chunk holds at most ~1 MiB.
std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& row_shape, std::size_t element_size);

}  // namespace scalebench::h5
