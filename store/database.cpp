#include "store/database.hpp"

#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <cstdio>
#include <stdexcept>

#include "common/encoding.hpp"
#include "common/errors.hpp"

namespace cairn::store {
namespace {

// The store's own keys. No consumer's layout may begin with these prefixes (Batch::put checks).
constexpr std::string_view kLayoutKey = "v/layout";
constexpr std::string_view kPositionPrefix = "p/";
bool is_reserved(std::string_view key) {
  return key.starts_with("v/") || key.starts_with(kPositionPrefix);
}
std::string position_key(int32_t partition) {
  char p[9];
  std::snprintf(p, sizeof p, "%08x", static_cast<unsigned>(partition));
  return std::string(kPositionPrefix) + p;
}

void check(const rocksdb::Status& s, std::string_view what) {
  if (!s.ok()) throw Unavailable("store " + std::string(what) + ": " + s.ToString());
}

}  // namespace

Database::Database(const std::string& path, std::string_view layout, Access access) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  // The default budget (512 MiB of memtables) would be most of the server's memory; the log is
  // the durable record, so small memtables only mean more frequent flushes.
  options.OptimizeLevelStyleCompaction(64u << 20);
  // Many reads miss by design (is this command UUID new? does this device have an UnlockToken?):
  // Bloom filters answer those without searching every level.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  auto status = access == Access::kReadOnly ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                                            : rocksdb::DB::Open(options, path, &raw);
  if (!status.ok())
    throw std::runtime_error("cannot open the store at " + path + ": " + status.ToString());
  db_.reset(raw);
  check_layout(layout, access);
}

Database::~Database() = default;

void Database::check_layout(std::string_view expected, Access access) {
  const std::string key(kLayoutKey);
  const auto layout = get(key);
  if (layout == expected) return;
  bool empty = true;
  scan("", "", [&](std::string_view, std::string_view) { return empty = false; });
  if (!layout && empty && access == Access::kReadWrite) {
    check(db_->Put(rocksdb::WriteOptions(), key, std::string(expected)), "write");
    return;
  }
  throw std::runtime_error("the store at " + db_->GetName() + " has layout " +
                           layout.value_or("(none)") + ", this version writes " +
                           std::string(expected) +
                           ": move that directory away and restart to rebuild it from the log");
}

std::optional<std::string> Database::get(std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  check(s, "read");
  return value;
}

namespace {

// Read options whose upper bound is the end of `prefix`, so iterators stop there instead of
// stepping over other keys and tombstones after it. Keeps the bound alive with the options.
class PrefixReadOptions {
 public:
  explicit PrefixReadOptions(std::string_view prefix) : end_(prefix) {
    while (!end_.empty() && static_cast<unsigned char>(end_.back()) == 0xff) end_.pop_back();
    if (end_.empty()) return;  // no prefix (or all 0xff): unbounded
    end_.back() = static_cast<char>(static_cast<unsigned char>(end_.back()) + 1);
    bound_ = rocksdb::Slice(end_);
    options_.iterate_upper_bound = &bound_;
  }
  PrefixReadOptions(const PrefixReadOptions&) = delete;
  PrefixReadOptions& operator=(const PrefixReadOptions&) = delete;
  const rocksdb::ReadOptions& get() const { return options_; }

 private:
  std::string end_;
  rocksdb::Slice bound_;
  rocksdb::ReadOptions options_;
};

void scan_iterator(rocksdb::Iterator* it, std::string_view prefix, std::string_view start,
                   const Reader::Visitor& visit) {
  const std::string from(start.empty() ? prefix : start);
  for (it->Seek(from); it->Valid(); it->Next()) {
    const auto k = it->key();
    const std::string_view key(k.data(), k.size());
    if (!key.starts_with(prefix)) break;
    const auto v = it->value();
    if (!visit(key, std::string_view(v.data(), v.size()))) break;
  }
  check(it->status(), "scan");
}

}  // namespace

void Database::scan(std::string_view prefix, std::string_view start, const Visitor& visit) const {
  const PrefixReadOptions options(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options.get()));
  scan_iterator(it.get(), prefix, start, visit);
}

void Database::write(Batch& batch) {
  check(db_->Write(rocksdb::WriteOptions(), batch.batch_->GetWriteBatch()), "write");
}

void Database::ingest_run(const Run& run) {
  if (run.empty()) return;
  // Sorted already: one SST file ingested skips the memtable, the WAL and the compactions a
  // stream of batches would cause (measured: a third of the rebuild's CPU went to those).
  const std::string file = db_->GetName() + "/bulk-load.sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions());
  check(writer.Open(file), "bulk load");
  for (const auto& [key, value] : run) {
    if (is_reserved(key)) throw std::logic_error("bulk load of the store's own key " + key);
    check(value ? writer.Put(key, *value) : writer.Delete(key), "bulk load");
  }
  check(writer.Finish(), "bulk load");
  rocksdb::IngestExternalFileOptions ingest;
  ingest.move_files = true;
  check(db_->IngestExternalFile({file}, ingest), "bulk load ingest");
}

void Database::bulk_load(const Run& last_run, const std::map<int32_t, int64_t>& next_offsets) {
  ingest_run(last_run);
  // Positions go last, after everything else is on disk: an interrupted load must not look like
  // a complete state (it would pass the ahead-of-log check and serve empty queues).
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // flushed below
  rocksdb::WriteBatch batch;
  for (const auto& [partition, next] : next_offsets)
    batch.Put(position_key(partition), std::to_string(next));
  check(db_->Write(options, &batch), "bulk write positions");
  check(db_->Flush(rocksdb::FlushOptions()), "flush");
}

Database::Digest Database::digest() const {
  Digest result;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  scan("", "", [&](std::string_view key, std::string_view value) {
    for (auto part : {key, value}) {
      const uint64_t n = part.size();
      EVP_DigestUpdate(ctx.get(), &n, sizeof n);
      EVP_DigestUpdate(ctx.get(), part.data(), part.size());
    }
    if (key.starts_with(kPositionPrefix))
      result.positions[static_cast<int32_t>(
          std::stoul(std::string(key.substr(kPositionPrefix.size())), nullptr, 16))] =
          std::stoll(std::string(value));
    return true;
  });
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &len);
  result.sha256 = hex_encode(std::string_view(reinterpret_cast<char*>(out), len));
  return result;
}

Offset Database::next_offset(PartitionId partition) const {
  auto v = get(position_key(partition.value()));
  return Offset(v ? std::stoll(*v) : 0);
}

Batch::Batch(const Database& db)
    : db_(db),
      batch_(std::make_unique<rocksdb::WriteBatchWithIndex>(rocksdb::BytewiseComparator(), 0,
                                                            /*overwrite_key=*/true)) {}

Batch::~Batch() = default;

std::optional<std::string> Batch::get(std::string_view key) const {
  std::string value;
  auto s = batch_->GetFromBatchAndDB(db_.db_.get(), rocksdb::ReadOptions(),
                                     rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  check(s, "read");
  return value;
}

void Batch::scan(std::string_view prefix, std::string_view start, const Visitor& visit) const {
  const PrefixReadOptions options(prefix);
  std::unique_ptr<rocksdb::Iterator> it(
      batch_->NewIteratorWithBase(db_.db_->NewIterator(options.get())));
  scan_iterator(it.get(), prefix, start, visit);
}

void Batch::put(std::string_view key, std::string_view value) {
  if (is_reserved(key))
    throw std::logic_error("a write to the store's own key " + std::string(key));
  check(batch_->Put(rocksdb::Slice(key.data(), key.size()),
                    rocksdb::Slice(value.data(), value.size())),
        "batch");
}

void Batch::erase(std::string_view key) {
  check(batch_->Delete(rocksdb::Slice(key.data(), key.size())), "batch");
}

void Batch::set_next_offset(PartitionId partition, Offset next) {
  check(batch_->Put(position_key(partition.value()), std::to_string(next.value())), "batch");
}

}  // namespace cairn::store
