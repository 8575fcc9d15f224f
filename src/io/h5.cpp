#include "io/h5.hpp"

#include <algorithm>
#include <functional>
#include <numeric>
#include <stdexcept>

#include "core/errors.hpp"

// H5Treclaim arrived in 1.12.0 (1.10 headers declare it, 1.10 libraries lack it);
// H5Pset_file_locking in 1.10.7 and 1.12.1.
#define SCALEBENCH_H5_HAS_TRECLAIM H5_VERSION_GE(1, 12, 0)
#define SCALEBENCH_H5_HAS_FILE_LOCKING \
  (H5_VERSION_GE(1, 10, 7) && !(H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 12 && H5_VERS_RELEASE == 0))

namespace scalebench::h5 {

// --- Errors -----------------------------------------------------------------------------------

namespace detail {

void silence_auto_print() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

std::string error_stack_top() {
  std::string top;
  // Walking upward starts at the most specific entry (e.g. "file exists"), which says more than
  // the API-level one ("unable to create file").
  auto first_description = [](unsigned n, const H5E_error2_t* err, void* out) -> herr_t {
    if (n == 0 && err->desc != nullptr) *static_cast<std::string*>(out) = err->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_description, &top);
  return top.empty() ? "see HDF5 error stack" : top;
}

void fail(const char* call, const char* file, int line, const std::string& where) {
  const std::string reason = error_stack_top();
  throw_call_failure("HDF5", call, file, line, where.empty() ? reason : where + ": " + reason);
}

}  // namespace detail

// --- Handle -----------------------------------------------------------------------------------

namespace {

herr_t close_by_type(hid_t id) {
  switch (H5Iget_type(id)) {
    case H5I_FILE:
      return H5Fclose(id);
    case H5I_GROUP:
      return H5Gclose(id);
    case H5I_DATASET:
      return H5Dclose(id);
    case H5I_ATTR:
      return H5Aclose(id);
    case H5I_DATASPACE:
      return H5Sclose(id);
    case H5I_DATATYPE:
      return H5Tclose(id);
    case H5I_GENPROP_LST:
      return H5Pclose(id);
    default:
      return -1;
  }
}

}  // namespace

Handle::~Handle() {
  if (valid()) close_by_type(id_);
}

Handle::Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (valid()) close_by_type(id_);
    id_ = std::exchange(other.id_, H5I_INVALID_HID);
  }
  return *this;
}

void Handle::close() {
  if (!valid()) return;
  const hid_t id = std::exchange(id_, H5I_INVALID_HID);
  H5_CHECK(close_by_type(id));
}

// --- Types and dataspaces ---------------------------------------------------------------------

namespace {

Handle vlen_utf8_string_type() {
  Handle type(H5_CHECK(H5Tcopy(H5T_C_S1)));
  H5_CHECK(H5Tset_size(type.id(), H5T_VARIABLE));
  H5_CHECK(H5Tset_cset(type.id(), H5T_CSET_UTF8));
  return type;
}

// Little-endian on disk whatever the writer's byte order, like h5py and most HDF5 tools.
Handle file_type(Type type) {
  switch (type) {
    case Type::kInt64:
      return Handle(H5_CHECK(H5Tcopy(H5T_STD_I64LE)));
    case Type::kFloat64:
      return Handle(H5_CHECK(H5Tcopy(H5T_IEEE_F64LE)));
    case Type::kString:
      return vlen_utf8_string_type();
  }
  throw std::invalid_argument("unknown HDF5 element type");
}

Handle simple_space(const std::vector<hsize_t>& dims, const std::vector<hsize_t>& max_dims) {
  return Handle(
      H5_CHECK(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data())));
}

hsize_t product(std::vector<hsize_t>::const_iterator begin,
                std::vector<hsize_t>::const_iterator end) {
  return std::accumulate(begin, end, hsize_t{1}, std::multiplies<hsize_t>());
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
  std::vector<const char*> out(values.size());
  std::transform(values.begin(), values.end(), out.begin(),
                 [](const std::string& s) { return s.c_str(); });
  return out;
}

}  // namespace

std::vector<hsize_t> chunk_shape(const std::vector<hsize_t>& row_shape, std::size_t element_size) {
  constexpr hsize_t kMaxRows = 64;
  constexpr hsize_t kMaxChunkBytes = 1 << 20;
  std::vector<hsize_t> chunk{kMaxRows};
  // A chunk dimension must be at least 1, even along a dimension of size 0.
  for (hsize_t d : row_shape) chunk.push_back(std::max<hsize_t>(d, 1));
  auto bytes = [&] { return product(chunk.begin(), chunk.end()) * element_size; };
  for (std::size_t d = 0; d < chunk.size() && bytes() > kMaxChunkBytes; ++d) {
    while (chunk[d] > 1 && bytes() > kMaxChunkBytes) chunk[d] = (chunk[d] + 1) / 2;
  }
  return chunk;
}

// --- Object: attributes -----------------------------------------------------------------------

namespace {

// For H5Iget_name and H5Fget_name, which share this calling convention.
std::string fetch_name(ssize_t (*get)(hid_t, char*, std::size_t), hid_t id) {
  const ssize_t size = get(id, nullptr, 0);
  if (size <= 0) return "?";
  std::string out(static_cast<std::size_t>(size) + 1, '\0');
  get(id, out.data(), out.size());
  out.resize(static_cast<std::size_t>(size));
  return out;
}

}  // namespace

std::string Object::name() const {
  return fetch_name(H5Fget_name, id()) + ":" + fetch_name(H5Iget_name, id());
}

bool Object::has_attr(const std::string& attr) const {
  return H5_CHECK_ON(H5Aexists(id(), attr.c_str()), name()) > 0;
}

void Object::write_scalar_attr(const std::string& attr, hid_t file_type, hid_t mem_type,
                               const void* value) {
  const auto where = [&] { return name() + " attribute " + attr; };
  if (has_attr(attr)) H5_CHECK_ON(H5Adelete(id(), attr.c_str()), where());
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)));
  Handle handle(H5_CHECK_ON(
      H5Acreate2(id(), attr.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT), where()));
  H5_CHECK_ON(H5Awrite(handle.id(), mem_type, value), where());
  handle.close();
}

void Object::read_scalar_attr(const std::string& attr, hid_t mem_type, void* value) const {
  const auto where = [&] { return name() + " attribute " + attr; };
  Handle handle(H5_CHECK_ON(H5Aopen(id(), attr.c_str(), H5P_DEFAULT), where()));
  H5_CHECK_ON(H5Aread(handle.id(), mem_type, value), where());
}

void Object::write_array_attr(const std::string& attr, hid_t file_type, hid_t mem_type,
                              std::size_t n, const void* values) {
  const auto where = [&] { return name() + " attribute " + attr; };
  if (has_attr(attr)) H5_CHECK_ON(H5Adelete(id(), attr.c_str()), where());
  const hsize_t dims[1] = {static_cast<hsize_t>(n)};
  Handle space(H5_CHECK(H5Screate_simple(1, dims, nullptr)));
  Handle handle(H5_CHECK_ON(
      H5Acreate2(id(), attr.c_str(), file_type, space.id(), H5P_DEFAULT, H5P_DEFAULT), where()));
  if (n > 0) H5_CHECK_ON(H5Awrite(handle.id(), mem_type, values), where());
  handle.close();
}

void Object::set_attr(const std::string& attr, const std::vector<std::int64_t>& values) {
  write_array_attr(attr, H5T_STD_I64LE, H5T_NATIVE_INT64, values.size(), values.data());
}

void Object::set_attr(const std::string& attr, const std::vector<std::string>& values) {
  const Handle type = vlen_utf8_string_type();
  std::vector<const char*> texts;
  for (const auto& v : values) texts.push_back(v.c_str());
  write_array_attr(attr, type.id(), type.id(), texts.size(), texts.data());
}

std::vector<std::int64_t> Object::attr_int64_array(const std::string& attr) const {
  const auto where = [&] { return name() + " attribute " + attr; };
  Handle handle(H5_CHECK_ON(H5Aopen(id(), attr.c_str(), H5P_DEFAULT), where()));
  Handle space(H5_CHECK_ON(H5Aget_space(handle.id()), where()));
  const hssize_t n = H5_CHECK_ON(H5Sget_simple_extent_npoints(space.id()), where());
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  if (n > 0) H5_CHECK_ON(H5Aread(handle.id(), H5T_NATIVE_INT64, out.data()), where());
  return out;
}

void Object::set_attr(const std::string& attr, const std::string& value) {
  const Handle type = vlen_utf8_string_type();
  const char* text = value.c_str();
  write_scalar_attr(attr, type.id(), type.id(), &text);
}

void Object::set_attr(const std::string& attr, std::int64_t value) {
  write_scalar_attr(attr, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void Object::set_attr(const std::string& attr, double value) {
  write_scalar_attr(attr, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

std::string Object::attr_string(const std::string& attr) const {
  const Handle type = vlen_utf8_string_type();
  char* text = nullptr;
  read_scalar_attr(attr, type.id(), &text);
  std::string out = text != nullptr ? text : "";
  H5free_memory(text);
  return out;
}

std::int64_t Object::attr_int64(const std::string& attr) const {
  std::int64_t value = 0;
  read_scalar_attr(attr, H5T_NATIVE_INT64, &value);
  return value;
}

double Object::attr_double(const std::string& attr) const {
  double value = 0;
  read_scalar_attr(attr, H5T_NATIVE_DOUBLE, &value);
  return value;
}

// --- Dataset ----------------------------------------------------------------------------------

std::vector<std::string> Dataset::filters() const {
  const Handle props(H5_CHECK(H5Dget_create_plist(id())));
  const int n = H5_CHECK(H5Pget_nfilters(props.id()));
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0;
    std::size_t n_values = 0;
    char name[64] = {0};
    unsigned config = 0;
    H5_CHECK(H5Pget_filter2(props.id(), static_cast<unsigned>(i), &flags, &n_values, nullptr, sizeof(name),
                            name, &config));
    const std::string lower = name;
    out.push_back(lower.find("shuffle") != std::string::npos ? "shuffle"
                  : lower.find("deflate") != std::string::npos ? "deflate" : lower);
  }
  return out;
}

std::vector<hsize_t> Dataset::dims() const {
  Handle space(H5_CHECK_ON(H5Dget_space(id()), name()));
  const int rank = H5_CHECK_ON(H5Sget_simple_extent_ndims(space.id()), name());
  std::vector<hsize_t> out(static_cast<std::size_t>(rank));
  H5_CHECK_ON(H5Sget_simple_extent_dims(space.id(), out.data(), nullptr), name());
  return out;
}

H5T_class_t Dataset::type_class() const {
  Handle type(H5_CHECK_ON(H5Dget_type(id()), name()));
  return H5_CHECK_ON(H5Tget_class(type.id()), name());
}

std::size_t Dataset::num_elements() const {
  const std::vector<hsize_t> d = dims();
  return static_cast<std::size_t>(product(d.begin(), d.end()));
}

void Dataset::append_raw(std::size_t rows, std::size_t n_values, hid_t mem_type,
                         const void* values) {
  const std::vector<hsize_t> old_dims = dims();
  if (old_dims.empty()) throw std::invalid_argument(name() + ": a scalar dataset cannot grow");
  const hsize_t row_size = product(old_dims.begin() + 1, old_dims.end());
  if (n_values != rows * row_size) {
    throw std::invalid_argument(name() + ": appending " + std::to_string(rows) + " row(s) needs " +
                                std::to_string(rows * row_size) + " values, got " +
                                std::to_string(n_values));
  }
  if (rows == 0) return;
  std::vector<hsize_t> new_dims = old_dims;
  new_dims[0] += rows;
  H5_CHECK_ON(H5Dset_extent(id(), new_dims.data()), name());
  if (n_values == 0) return;  // rows of zero width: nothing to write

  std::vector<hsize_t> start(old_dims.size(), 0);
  start[0] = old_dims[0];
  std::vector<hsize_t> count = new_dims;
  count[0] = rows;
  Handle file_space(H5_CHECK_ON(H5Dget_space(id()), name()));
  H5_CHECK_ON(H5Sselect_hyperslab(file_space.id(), H5S_SELECT_SET, start.data(), nullptr,
                                  count.data(), nullptr),
              name());
  Handle mem_space(
      H5_CHECK(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr)));
  H5_CHECK_ON(H5Dwrite(id(), mem_type, mem_space.id(), file_space.id(), H5P_DEFAULT, values),
              name());
}

void Dataset::write_all(std::size_t n_values, hid_t mem_type, const void* values) {
  if (n_values == 0) return;  // HDF5 refuses a null buffer even for an empty dataset
  H5_CHECK_ON(H5Dwrite(id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), name());
}

void Dataset::append(std::size_t rows, const std::vector<std::int64_t>& values) {
  append_raw(rows, values.size(), H5T_NATIVE_INT64, values.data());
}

void Dataset::append(std::size_t rows, const std::vector<double>& values) {
  append_raw(rows, values.size(), H5T_NATIVE_DOUBLE, values.data());
}

void Dataset::append(std::size_t rows, const std::vector<std::string>& values) {
  const Handle type = vlen_utf8_string_type();
  const std::vector<const char*> pointers = c_strings(values);
  append_raw(rows, pointers.size(), type.id(), pointers.data());
}

void Dataset::read_raw(hid_t mem_type, void* values) const {
  H5_CHECK_ON(H5Dread(id(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values), name());
}

std::vector<std::int64_t> Dataset::read_int64() const {
  std::vector<std::int64_t> out(num_elements());
  if (!out.empty()) read_raw(H5T_NATIVE_INT64, out.data());
  return out;
}

std::vector<double> Dataset::read_double() const {
  std::vector<double> out(num_elements());
  if (!out.empty()) read_raw(H5T_NATIVE_DOUBLE, out.data());
  return out;
}

std::vector<std::string> Dataset::read_strings() const {
  std::vector<char*> pointers(num_elements(), nullptr);
  if (pointers.empty()) return {};
  const Handle type = vlen_utf8_string_type();
  read_raw(type.id(), pointers.data());
  std::vector<std::string> out;
  out.reserve(pointers.size());
  for (const char* p : pointers) out.emplace_back(p != nullptr ? p : "");
  // HDF5 allocated each string; it frees them given the buffer's type and shape.
  Handle space(H5_CHECK_ON(H5Dget_space(id()), name()));
#if SCALEBENCH_H5_HAS_TRECLAIM
  H5_CHECK_ON(H5Treclaim(type.id(), space.id(), H5P_DEFAULT, pointers.data()), name());
#else
  H5_CHECK_ON(H5Dvlen_reclaim(type.id(), space.id(), H5P_DEFAULT, pointers.data()), name());
#endif
  return out;
}

// --- Location: groups and datasets ------------------------------------------------------------

bool Location::exists(const std::string& child) const {
  return H5_CHECK_ON(H5Lexists(id(), child.c_str(), H5P_DEFAULT), name() + " link " + child) > 0;
}

Group Location::create_group(const std::string& child) {
  return Group(
      Handle(H5_CHECK_ON(H5Gcreate2(id(), child.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         name() + " group " + child)));
}

Group Location::open_group(const std::string& child) const {
  return Group(
      Handle(H5_CHECK_ON(H5Gopen2(id(), child.c_str(), H5P_DEFAULT), name() + " group " + child)));
}

Dataset Location::open_dataset(const std::string& child) const {
  return Dataset(Handle(
      H5_CHECK_ON(H5Dopen2(id(), child.c_str(), H5P_DEFAULT), name() + " dataset " + child)));
}

Dataset Location::create_dataset(const std::string& child, hid_t type, hid_t space,
                                 hid_t create_props, hid_t access_props) {
  return Dataset(Handle(H5_CHECK_ON(
      H5Dcreate2(id(), child.c_str(), type, space, H5P_DEFAULT, create_props, access_props),
      name() + " dataset " + child)));
}

Dataset Location::create_appendable(const std::string& child, Type type,
                                    const std::vector<hsize_t>& row_shape, Compression compression) {
  const Handle stored = file_type(type);
  std::vector<hsize_t> dims{0};
  dims.insert(dims.end(), row_shape.begin(), row_shape.end());
  std::vector<hsize_t> max_dims = dims;
  max_dims[0] = H5S_UNLIMITED;
  const Handle space = simple_space(dims, max_dims);
  const std::vector<hsize_t> chunk = chunk_shape(row_shape, H5Tget_size(stored.id()));
  const Handle props(H5_CHECK(H5Pcreate(H5P_DATASET_CREATE)));
  H5_CHECK(H5Pset_chunk(props.id(), static_cast<int>(chunk.size()), chunk.data()));
  if (compression == Compression::kShuffleDeflate && type != Type::kString) {
    // Variable-length strings are stored out of the chunk (in the global heap): nothing to gain.
    H5_CHECK(H5Pset_shuffle(props.id()));
    H5_CHECK(H5Pset_deflate(props.id(), 1));
  }
  // Rows are only ever appended: the chunks of the row band being filled are all a writer needs in
  // its raw-data chunk cache. HDF5's default (1 MiB and 521 slots per dataset) keeps hundreds of
  // written chunks of each of the run file's ~40 datasets, which is rank 0's memory growing with
  // the steps for tens of thousands of steps (bench/soak.py, docs/faults.md).
  std::size_t band_chunks = 1;
  for (std::size_t d = 1; d < chunk.size(); ++d) band_chunks *= static_cast<std::size_t>((dims[d] + chunk[d] - 1) / chunk[d]);
  const std::size_t chunk_bytes = static_cast<std::size_t>(product(chunk.begin(), chunk.end())) * H5Tget_size(stored.id());
  const Handle access(H5_CHECK(H5Pcreate(H5P_DATASET_ACCESS)));
  // Slots: a prime well above the band's chunks (fewer collisions); w0 = 1: a fully written chunk
  // is evicted first.
  const std::size_t slots = band_chunks < 8 ? 13 : band_chunks < 64 ? 257 : 4099;
  H5_CHECK(H5Pset_chunk_cache(access.id(), slots, band_chunks * chunk_bytes, 1.0));
  return create_dataset(child, stored.id(), space.id(), props.id(), access.id());
}

Dataset Location::write_1d(const std::string& child, Type type, std::size_t n, hid_t mem_type,
                           const void* values) {
  const Handle stored = file_type(type);
  const Handle space = simple_space({n}, {n});
  Dataset out = create_dataset(child, stored.id(), space.id(), H5P_DEFAULT);
  out.write_all(n, mem_type, values);
  return out;
}

Dataset Location::write_dataset(const std::string& child, const std::vector<std::int64_t>& values) {
  return write_1d(child, Type::kInt64, values.size(), H5T_NATIVE_INT64, values.data());
}

Dataset Location::write_dataset(const std::string& child, const std::vector<double>& values) {
  return write_1d(child, Type::kFloat64, values.size(), H5T_NATIVE_DOUBLE, values.data());
}

Dataset Location::write_dataset(const std::string& child, const std::vector<std::string>& values) {
  const Handle mem_type = vlen_utf8_string_type();
  return write_1d(child, Type::kString, values.size(), mem_type.id(), c_strings(values).data());
}

// --- File -------------------------------------------------------------------------------------

namespace {

constexpr std::size_t kMetadataCacheBytes = 256 * 1024;

// Without this, HDF5 >= 1.10 refuses to open files on file systems without flock support (some
// Lustre and NFS mounts); with it, locking is still used wherever it works.
Handle file_access_props() {
  Handle props(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)));
#if SCALEBENCH_H5_HAS_FILE_LOCKING
  H5_CHECK(H5Pset_file_locking(props.id(), true, true));
#endif
  // A fixed, small metadata cache. HDF5's adaptive one grows with the chunk indexes of the run
  // file's ~40 append-only datasets (to 1 MiB of entries by ~50,000 steps, and rank 0's RSS about
  // 4x that, bench_record_sim): rank 0's memory then grows with the steps although nothing is
  // kept. An appender only touches the last index nodes; 256 KiB holds them for every dataset.
  H5AC_cache_config_t mdc;
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  H5_CHECK(H5Pget_mdc_config(props.id(), &mdc));
  mdc.set_initial_size = true;
  mdc.initial_size = kMetadataCacheBytes;
  mdc.min_size = kMetadataCacheBytes;
  mdc.max_size = kMetadataCacheBytes;
  mdc.incr_mode = H5C_incr__off;
  mdc.flash_incr_mode = H5C_flash_incr__off;
  mdc.decr_mode = H5C_decr__off;
  H5_CHECK(H5Pset_mdc_config(props.id(), &mdc));
  return props;
}

}  // namespace

File File::create(const std::string& path, CreateMode mode) {
  const unsigned flags = mode == CreateMode::kExclusive ? H5F_ACC_EXCL : H5F_ACC_TRUNC;
  const Handle access = file_access_props();
  return File(Handle(H5_CHECK_ON(H5Fcreate(path.c_str(), flags, H5P_DEFAULT, access.id()), path)));
}

File File::open_read_only(const std::string& path) {
  const Handle access = file_access_props();
  return File(Handle(H5_CHECK_ON(H5Fopen(path.c_str(), H5F_ACC_RDONLY, access.id()), path)));
}

std::size_t File::metadata_cache_bytes() const {
  size_t max_size = 0, min_clean = 0, current = 0;
  int entries = 0;
  H5_CHECK_ON(H5Fget_mdc_size(id(), &max_size, &min_clean, &current, &entries), name());
  return current;
}

void File::flush() { H5_CHECK_ON(H5Fflush(id(), H5F_SCOPE_GLOBAL), name()); }

}  // namespace scalebench::h5
