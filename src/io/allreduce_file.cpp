#include "io/allreduce_file.hpp"

#include <stdexcept>
#include <utility>

namespace scalebench::io {
namespace {

h5::Dataset column(h5::Group& group, const char* name, h5::Type type, const char* unit,
                   const char* description) {
  h5::Dataset d = group.create_appendable(name, type, {});
  d.set_attr("unit", std::string(unit));
  d.set_attr("description", std::string(description));
  return d;
}

}  // namespace

AllreduceFile::AllreduceFile(std::string path, int world_size) noexcept
    : path_(std::move(path)), world_size_(world_size) {}

AllreduceFile AllreduceFile::create(const std::string& path, int world_size) {
  if (world_size < 1) throw std::invalid_argument("allreduce file " + path + ": needs world_size >= 1");
  AllreduceFile out(path, world_size);
  out.file_ = h5::File::create(path, h5::CreateMode::kExclusive);
  h5::File& f = out.file_;
  f.set_attr("format", std::string(kAllreduceFormatName));
  f.set_attr("schema_version", kAllreduceSchemaVersion);
  f.set_attr("status", std::string("running"));
  h5::Group sizes = f.create_group("sizes");
  out.scope_ = column(sizes, "scope", h5::Type::kString, "",
                      "which ranks reduced together: intra (the ranks of each node, all nodes at "
                      "once), inter (one rank per node), all (every rank)");
  out.group_size_ = column(sizes, "group_size", h5::Type::kInt64, "1",
                           "ranks in one collective (intra: the largest node's)");
  out.groups_ = column(sizes, "groups", h5::Type::kInt64, "1",
                       "collectives run side by side (intra: one per node)");
  out.bytes_ = column(sizes, "bytes", h5::Type::kInt64, "B", "message size per rank");
  out.count_ = column(sizes, "count", h5::Type::kInt64, "1", "elements per rank");
  out.time_s_ = column(sizes, "time_s", h5::Type::kFloat64, "s",
                       "median over the timed iterations of the slowest rank's allreduce time");
  out.algbw_ = column(sizes, "algbw_gbps", h5::Type::kFloat64, "GB/s", "bytes / time_s / 1e9");
  out.busbw_ = column(sizes, "busbw_gbps", h5::Type::kFloat64, "GB/s",
                      "algbw * 2 (n - 1) / n, n = group_size (nccl-tests' bus bandwidth)");
  out.wrong_ = column(sizes, "wrong", h5::Type::kInt64, "1",
                      "elements that differ from the known mean, summed over ranks; -1: not checked");
  out.max_error_ = column(sizes, "max_error", h5::Type::kFloat64, "1",
                          "largest |result - expected mean| on any rank; -1: not checked");
  out.compute_rate_ = column(sizes, "compute_rate", h5::Type::kFloat64, "1",
                             "<scope>+compute rows (--beside-compute): the compute load's share of a "
                             "core while the size's timed iterations ran over its share alone (no "
                             "collective, every rank loaded), median over ranks; NaN on other rows");
  f.create_group("iterations");
  f.create_group("ranks");
  return out;
}

h5::File& AllreduceFile::file() {
  if (!file_.is_open()) throw std::logic_error("allreduce file " + path_ + " is already closed");
  return file_;
}

void AllreduceFile::set_attr(const std::string& name, const std::string& value) {
  file().set_attr(name, value);
}
void AllreduceFile::set_attr(const std::string& name, std::int64_t value) {
  file().set_attr(name, value);
}
void AllreduceFile::set_attr(const std::string& name, double value) { file().set_attr(name, value); }

void AllreduceFile::write_hostnames(const std::vector<std::string>& hostnames) {
  if (hostnames.size() != static_cast<std::size_t>(world_size_)) {
    throw std::invalid_argument("allreduce file " + path_ + ": " + std::to_string(hostnames.size()) +
                                " host names for " + std::to_string(world_size_) + " ranks");
  }
  h5::Dataset d = file().open_group("ranks").write_dataset("hostname", hostnames);
  d.set_attr("description", std::string("host the rank ran on"));
}

void AllreduceFile::append_size(const AllreduceSizeResult& r) {
  const auto ranks = static_cast<std::size_t>(world_size_);
  if (r.times_s.empty() || r.times_s.size() % ranks != 0) {
    throw std::invalid_argument("allreduce file " + path_ + ": " + std::to_string(r.times_s.size()) +
                                " times is not a positive multiple of the world size");
  }
  h5::File& f = file();
  scope_.append(1, std::vector<std::string>{r.scope});
  group_size_.append(1, std::vector<std::int64_t>{r.group_size});
  groups_.append(1, std::vector<std::int64_t>{r.groups});
  bytes_.append(1, std::vector<std::int64_t>{static_cast<std::int64_t>(r.bytes)});
  count_.append(1, std::vector<std::int64_t>{static_cast<std::int64_t>(r.count)});
  time_s_.append(1, std::vector<double>{r.time_s});
  algbw_.append(1, std::vector<double>{r.algbw_gbps});
  busbw_.append(1, std::vector<double>{r.busbw_gbps});
  wrong_.append(1, std::vector<std::int64_t>{r.wrong});
  max_error_.append(1, std::vector<double>{r.max_error});
  compute_rate_.append(1, std::vector<double>{r.compute_rate});
  h5::Group all_scopes = f.open_group("iterations");
  h5::Group iterations = all_scopes.exists(r.scope) ? all_scopes.open_group(r.scope)
                                                    : all_scopes.create_group(r.scope);
  h5::Dataset d = iterations.create_appendable(std::to_string(r.bytes), h5::Type::kFloat64,
                                               {static_cast<hsize_t>(ranks)});
  d.append(r.times_s.size() / ranks, r.times_s);
  d.set_attr("unit", std::string("s"));
  d.set_attr("description",
             std::string("allreduce time of each timed iteration [iteration, rank]; NaN: the rank "
                         "took no part in this scope"));
  d.set_attr("bytes", static_cast<std::int64_t>(r.bytes));
  d.set_attr("count", static_cast<std::int64_t>(r.count));
  f.flush();
}

void AllreduceFile::close() {
  if (!file_.is_open()) return;
  file_.flush();
  scope_ = {};
  group_size_ = {};
  groups_ = {};
  bytes_ = {};
  count_ = {};
  time_s_ = {};
  algbw_ = {};
  busbw_ = {};
  wrong_ = {};
  max_error_ = {};
  compute_rate_ = {};
  file_.close();
}

}  // namespace scalebench::io
