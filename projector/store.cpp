#include "projector/store.hpp"

#include <openssl/evp.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>

#include "common/encoding.hpp"
#include "common/errors.hpp"
#include "projector/keys.hpp"

namespace cairn::projector {
namespace {

void check(const rocksdb::Status& s, std::string_view what) {
  if (!s.ok()) throw Unavailable("projection store " + std::string(what) + ": " + s.ToString());
}

}  // namespace

Store::Store(const std::string& path, std::string_view layout) {
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
  auto status = rocksdb::DB::Open(options, path, &raw);
  if (!status.ok())
    throw std::runtime_error("cannot open projection at " + path + ": " + status.ToString());
  db_.reset(raw);
  check_layout(layout);
}

void Store::check_layout(std::string_view expected) {
  const std::string key(keys::kLayoutKey);
  const auto layout = get(key);
  if (layout == expected) return;
  bool empty = true;
  scan("", "", [&](std::string_view, std::string_view) { return empty = false; });
  if (!layout && empty) {
    check(db_->Put(rocksdb::WriteOptions(), key, std::string(expected)), "write");
    return;
  }
  throw std::runtime_error("the store at " + db_->GetName() + " has layout " +
                           layout.value_or("(none)") + ", this version writes " +
                           std::string(expected) +
                           ": move that directory away and restart to rebuild it from the log");
}

std::optional<std::string> Store::get(std::string_view key) const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  check(s, "read");
  return value;
}

std::optional<std::string> Store::get(rocksdb::WriteBatchWithIndex& batch,
                                      std::string_view key) const {
  std::string value;
  auto s = batch.GetFromBatchAndDB(db_.get(), rocksdb::ReadOptions(),
                                   rocksdb::Slice(key.data(), key.size()), &value);
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
                   const std::function<bool(std::string_view, std::string_view)>& visit) {
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

void Store::scan(std::string_view prefix, std::string_view start,
                 const std::function<bool(std::string_view, std::string_view)>& visit) const {
  const PrefixReadOptions options(prefix);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options.get()));
  scan_iterator(it.get(), prefix, start, visit);
}

void Store::scan(rocksdb::WriteBatchWithIndex& batch, std::string_view prefix,
                 std::string_view start,
                 const std::function<bool(std::string_view, std::string_view)>& visit) const {
  const PrefixReadOptions options(prefix);
  std::unique_ptr<rocksdb::Iterator> it(batch.NewIteratorWithBase(db_->NewIterator(options.get())));
  scan_iterator(it.get(), prefix, start, visit);
}

void Store::write(rocksdb::WriteBatchWithIndex& batch) {
  // No sync: the log is the durable record. A crash loses the unsynced tail of the projection
  // together with the position stored in the same batch, so it is re-applied from the log.
  check(db_->Write(rocksdb::WriteOptions(), batch.GetWriteBatch()), "write");
}

void Store::bulk_load(const std::map<std::string, std::string, std::less<>>& contents) {
  // The contents are sorted already: written as one SST file and ingested, they skip the
  // memtable, the WAL and the compactions a stream of batches would cause (measured: a third
  // of the rebuild's CPU went to those).
  const std::string file = db_->GetName() + "/bulk-load.sst";
  rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), db_->GetOptions());
  check(writer.Open(file), "bulk load");
  bool any = false;
  for (const auto& [key, value] : contents) {
    if (key.starts_with("p/")) continue;
    check(writer.Put(key, value), "bulk load");
    any = true;
  }
  if (any) {
    check(writer.Finish(), "bulk load");
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    check(db_->IngestExternalFile({file}, ingest), "bulk load ingest");
  }
  // Positions go last, after everything else is on disk: an interrupted load must not look like
  // a complete projection (it would pass the ahead-of-log check and serve empty queues).
  rocksdb::WriteOptions options;
  options.disableWAL = true;  // flushed below
  rocksdb::WriteBatch batch;
  for (auto it = contents.lower_bound("p/"); it != contents.end() && it->first.starts_with("p/");
       ++it)
    batch.Put(it->first, it->second);
  check(db_->Write(options, &batch), "bulk write positions");
  check(db_->Flush(rocksdb::FlushOptions()), "flush");
}

Store::Digest Store::digest() const {
  Digest result;
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  scan("", "", [&](std::string_view key, std::string_view value) {
    for (auto part : {key, value}) {
      const uint64_t n = part.size();
      EVP_DigestUpdate(ctx.get(), &n, sizeof n);
      EVP_DigestUpdate(ctx.get(), part.data(), part.size());
    }
    if (key.starts_with("p/"))
      result.positions[static_cast<int32_t>(std::stoul(std::string(key.substr(2)), nullptr, 16))] =
          std::stoll(std::string(value));
    return true;
  });
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), out, &len);
  result.sha256 = hex_encode(std::string_view(reinterpret_cast<char*>(out), len));
  return result;
}

Offset Store::next_offset(PartitionId partition) const {
  auto v = get(keys::position(partition.value()));
  return Offset(v ? std::stoll(*v) : 0);
}

}  // namespace cairn::projector
