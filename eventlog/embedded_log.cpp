#include "eventlog/embedded_log.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace cairn::eventlog {
namespace {

constexpr size_t kHeaderBytes = 8;  // length + CRC
constexpr uint32_t kMaxRecordBytes = 64u << 20;

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u16(std::string& out, uint16_t v) {
  out += static_cast<char>(v & 0xff);
  out += static_cast<char>(v >> 8);
}
uint32_t get_u32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
uint16_t get_u16(const char* p) {
  return static_cast<uint16_t>(static_cast<uint8_t>(p[0]) | (static_cast<uint8_t>(p[1]) << 8));
}

uint32_t crc_of(const char* p, size_t n) {
  return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

void encode_record(const RecordToAppend& r, std::string& out) {
  if (r.key.size() > 0xffff || r.type.size() > 0xffff) throw BadRequest("record key too long");
  std::string body;
  body.reserve(4 + r.key.size() + r.type.size() + r.value.size());
  put_u16(body, static_cast<uint16_t>(r.key.size()));
  body += r.key;
  put_u16(body, static_cast<uint16_t>(r.type.size()));
  body += r.type;
  body += r.value;
  if (body.size() > kMaxRecordBytes) throw BadRequest("event larger than the log's record limit");
  put_u32(out, static_cast<uint32_t>(body.size()));
  put_u32(out, crc_of(body.data(), body.size()));
  out += body;
}

// Parses a record body (after the header); returns false if the framing inside is inconsistent.
bool decode_body(const char* p, size_t n, LogRecord& r) {
  if (n < 2) return false;
  const size_t key_len = get_u16(p);
  if (2 + key_len + 2 > n) return false;
  const size_t type_len = get_u16(p + 2 + key_len);
  if (4 + key_len + type_len > n) return false;
  r.key.assign(p + 2, key_len);
  r.type.assign(p + 4 + key_len, type_len);
  r.value.assign(p + 4 + key_len + type_len, n - 4 - key_len - type_len);
  return true;
}

bool read_exact(int fd, char* buf, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t got = ::pread(fd, buf, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    buf += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

}  // namespace

EmbeddedLog::EmbeddedLog(const std::string& dir, Mode mode)
    : path_(dir + "/events.log"), mode_(mode) {
  const bool writable = mode == Mode::kReadWrite;
  if (writable) std::filesystem::create_directories(dir);
  fd_ = ::open(path_.c_str(), writable ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0640);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_ + ": " + std::strerror(errno));
  if (writable && ::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd_);
    throw std::runtime_error(path_ + " is in use by another cairn process");
  }
  if (writable) {
    // Make the file's directory entry durable too, once.
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
      ::fsync(dir_fd);
      ::close(dir_fd);
    }
  }
  recover();
  if (writable)
    writer_ = std::thread([this] { writer_loop(); });
  else
    failed_ = true;  // appends are refused
}

EmbeddedLog::~EmbeddedLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  ::close(fd_);
}

namespace {

constexpr uint64_t kMaxTailScanBytes = 256ull << 20;

// True if a complete record with a matching CRC starts at `p` of `tail`.
bool record_starts_at(std::string_view tail, size_t p) {
  if (p + kHeaderBytes > tail.size()) return false;
  const uint32_t length = get_u32(tail.data() + p);
  if (length < 4 || length > kMaxRecordBytes || length > tail.size() - p - kHeaderBytes)
    return false;
  return crc_of(tail.data() + p + kHeaderBytes, length) == get_u32(tail.data() + p + 4);
}

}  // namespace

void EmbeddedLog::recover() {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw std::runtime_error("cannot stat " + path_);
  const auto size = static_cast<uint64_t>(st.st_size);
  // The scan reads the file in large blocks: a read per record header and body made opening a
  // large log syscall-bound.
  std::string block;
  uint64_t block_start = 0;
  auto bytes_at = [&](uint64_t at, size_t n) -> const char* {  // [at, at + n) lies in the file
    if (at < block_start || at + n > block_start + block.size()) {
      block.resize(
          static_cast<size_t>(std::min<uint64_t>(std::max<size_t>(n, 4u << 20), size - at)));
      if (!read_exact(fd_, block.data(), block.size(), at))
        throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
      block_start = at;
    }
    return block.data() + (at - block_start);
  };
  uint64_t pos = 0;
  while (pos + kHeaderBytes <= size) {
    const char* header = bytes_at(pos, kHeaderBytes);
    const uint32_t length = get_u32(header);
    const uint32_t crc = get_u32(header + 4);
    if (length > kMaxRecordBytes || pos + kHeaderBytes + length > size) break;
    if (crc_of(bytes_at(pos + kHeaderBytes, length), length) != crc) break;
    record_offsets_.push_back(pos);
    pos += kHeaderBytes + length;
  }
  file_size_ = pos;
  if (pos == size) return;
  if (mode_ == Mode::kReadOnly) return;  // a writer may be mid-append: read what is complete
  // Only the last group commit can be torn by a crash, so nothing valid may follow the damage.
  // A valid record after it means the file was damaged in the middle: that needs an operator,
  // not a truncation that would throw away acknowledged events.
  if (size - pos > kMaxTailScanBytes)
    throw std::runtime_error(path_ + " is damaged at byte " + std::to_string(pos) +
                             " with more than 256 MiB after it; refusing to truncate");
  std::string tail(size - pos, '\0');
  if (!read_exact(fd_, tail.data(), tail.size(), pos))
    throw std::runtime_error("cannot read " + path_ + ": " + std::strerror(errno));
  for (size_t p = 1; p < tail.size(); ++p)
    if (record_starts_at(tail, p))
      throw std::runtime_error(path_ + " is damaged at byte " + std::to_string(pos) +
                               " but holds valid records after it; refusing to truncate");
  truncated_bytes_ = size - pos;
  logging::warn("event log had a torn tail; truncating",
                {{"path", path_},
                 {"valid_bytes", std::to_string(pos)},
                 {"discarded_bytes", std::to_string(truncated_bytes_)}});
  if (::ftruncate(fd_, static_cast<off_t>(pos)) != 0 || ::fsync(fd_) != 0)
    throw std::runtime_error("cannot truncate torn tail of " + path_);
}

std::vector<LogPosition> EmbeddedLog::append(std::vector<RecordToAppend> records) {
  if (records.empty()) return {};
  std::string encoded;
  std::vector<uint64_t> starts;
  for (const auto& r : records) {
    starts.push_back(encoded.size());
    encode_record(r, encoded);
  }
  std::shared_ptr<PendingBatch> batch;
  size_t first_index = 0;
  {
    std::unique_lock lock(mu_);
    if (failed_ || stopping_) throw Unavailable("event log is not accepting writes");
    if (!open_batch_) open_batch_ = std::make_shared<PendingBatch>();
    batch = open_batch_;
    first_index = batch->record_starts.size();
    for (auto s : starts) batch->record_starts.push_back(batch->bytes.size() + s);
    batch->bytes += encoded;
    work_cv_.notify_one();
    durable_cv_.wait(lock, [&] { return batch->done; });
    if (batch->failed) throw Unavailable("event log write failed");
  }
  std::vector<LogPosition> positions;
  positions.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i)
    positions.push_back(
        {PartitionId(0), Offset(batch->first_offset + static_cast<int64_t>(first_index + i))});
  return positions;
}

void EmbeddedLog::writer_loop() {
  while (true) {
    std::shared_ptr<PendingBatch> batch;
    uint64_t at = 0;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return open_batch_ || stopping_; });
      if (!open_batch_) return;  // stopping, nothing pending
      batch = std::move(open_batch_);
      at = file_size_;
      if (failed_) {  // after a failed write the file's tail is unknown: write nothing more
        batch->failed = batch->done = true;
        durable_cv_.notify_all();
        continue;
      }
    }
    bool ok = true;
    size_t written = 0;
    while (ok && written < batch->bytes.size()) {
      ssize_t n = ::pwrite(fd_, batch->bytes.data() + written, batch->bytes.size() - written,
                           static_cast<off_t>(at + written));
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) written += static_cast<size_t>(n);
    }
    ok = ok && ::fdatasync(fd_) == 0;
    if (!ok)
      logging::error("event log write failed", {{"path", path_}, {"error", std::strerror(errno)}});
    {
      std::lock_guard lock(mu_);
      if (ok) {
        batch->first_offset = static_cast<int64_t>(record_offsets_.size());
        for (auto s : batch->record_starts) record_offsets_.push_back(at + s);
        file_size_ = at + batch->bytes.size();
      } else {
        failed_ = true;
        batch->failed = true;
      }
      batch->done = true;
      batch->bytes.clear();
      batch->bytes.shrink_to_fit();
    }
    durable_cv_.notify_all();
  }
}

void EmbeddedLog::check_partition(PartitionId p) const {
  if (p.value() != 0) throw std::out_of_range("the embedded log has one partition");
}

Offset EmbeddedLog::end_offset(PartitionId partition) const {
  check_partition(partition);
  std::lock_guard lock(mu_);
  return Offset(static_cast<int64_t>(record_offsets_.size()));
}

std::vector<LogRecord> EmbeddedLog::read(PartitionId partition, Offset from, size_t max,
                                         std::chrono::milliseconds wait) {
  check_partition(partition);
  const auto first = static_cast<size_t>(from.value());
  uint64_t begin = 0, end = 0;
  size_t count = 0;
  {
    std::unique_lock lock(mu_);
    durable_cv_.wait_for(lock, wait, [&] { return record_offsets_.size() > first || stopping_; });
    if (record_offsets_.size() <= first) return {};
    count = std::min(max, record_offsets_.size() - first);
    begin = record_offsets_[first];
    end = first + count < record_offsets_.size() ? record_offsets_[first + count] : file_size_;
  }
  std::string chunk(end - begin, '\0');
  if (!read_exact(fd_, chunk.data(), chunk.size(), begin))
    throw Unavailable("cannot read event log " + path_);
  std::vector<LogRecord> out(count);
  size_t pos = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint32_t length = get_u32(chunk.data() + pos);
    if (pos + kHeaderBytes + length > chunk.size() ||
        !decode_body(chunk.data() + pos + kHeaderBytes, length, out[i]))
      throw std::runtime_error("event log record " + std::to_string(first + i) + " is corrupt");
    out[i].position = {partition, Offset(static_cast<int64_t>(first + i))};
    pos += kHeaderBytes + length;
  }
  return out;
}

}  // namespace cairn::eventlog
