#include "eventlog/embedded_log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/errors.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::eventlog {
namespace {

using namespace std::chrono_literals;

RecordToAppend record(int i) {
  return {"device-" + std::to_string(i % 7), "Type", "value " + std::to_string(i)};
}

std::vector<LogRecord> read_all(EventLog& log) {
  return log.read(PartitionId(0), Offset(0), 1'000'000, 0ms);
}

TEST(EmbeddedLog, AppendsInOrderAndSurvivesReopen) {
  testing::TempDir dir;
  {
    EmbeddedLog log(dir.path());
    auto positions = log.append({record(0), record(1), record(2)});
    ASSERT_EQ(positions.size(), 3u);
    EXPECT_EQ(positions[2].offset, Offset(2));
    EXPECT_EQ(log.append({record(3)})[0].offset, Offset(3));
  }
  EmbeddedLog log(dir.path());
  auto records = read_all(log);
  ASSERT_EQ(records.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(records[i].value, "value " + std::to_string(i));
    EXPECT_EQ(records[i].key, "device-" + std::to_string(i));
    EXPECT_EQ(records[i].position.offset, Offset(i));
  }
  EXPECT_EQ(log.end_offset(PartitionId(0)), Offset(4));
  EXPECT_EQ(log.truncated_bytes_at_open(), 0u);
}

TEST(EmbeddedLog, RecordsLargerThanTheOpeningScansBlockSurviveReopen) {
  testing::TempDir dir;
  const std::string big(9u << 20, 'x');  // spans several 4 MiB read blocks
  {
    EmbeddedLog log(dir.path());
    log.append({record(0), {"device-big", "Type", big}, record(2)});
  }
  EmbeddedLog log(dir.path());
  auto records = read_all(log);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].value, big);
  EXPECT_EQ(records[2].value, "value 2");
}

TEST(EmbeddedLog, ConcurrentAppendersAllGetDistinctDurablePositions) {
  testing::TempDir dir;
  EmbeddedLog log(dir.path());
  constexpr int kThreads = 8, kEach = 200;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> offsets(kThreads);
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        offsets[t].push_back(log.append({record(t * kEach + i)})[0].offset.value());
    });
  for (auto& th : threads) th.join();
  std::set<int64_t> all;
  for (const auto& v : offsets) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*all.rbegin(), kThreads * kEach - 1);
  // Every record reads back with the value its appender wrote.
  auto records = read_all(log);
  ASSERT_EQ(records.size(), static_cast<size_t>(kThreads * kEach));
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kEach; ++i)
      EXPECT_EQ(records[offsets[t][i]].value, "value " + std::to_string(t * kEach + i));
}

TEST(EmbeddedLog, TornTailIsTruncatedAndAppendsContinue) {
  testing::TempDir dir;
  {
    EmbeddedLog log(dir.path());
    log.append({record(0), record(1)});
  }
  const auto path = dir / "events.log";
  const auto good_size = std::filesystem::file_size(path);
  {
    std::ofstream out(path, std::ios::app | std::ios::binary);
    out << std::string("\x40\x00\x00\x00\x11\x22", 6) << "half a record";  // a crash mid-write
  }
  EmbeddedLog log(dir.path());
  EXPECT_GT(log.truncated_bytes_at_open(), 0u);
  EXPECT_EQ(std::filesystem::file_size(path), good_size);
  EXPECT_EQ(log.append({record(2)})[0].offset, Offset(2));
  EXPECT_EQ(read_all(log).size(), 3u);
}

TEST(EmbeddedLog, CorruptRecordEndsTheValidLog) {
  testing::TempDir dir;
  {
    EmbeddedLog log(dir.path());
    log.append({record(0), record(1), record(2)});
  }
  {
    std::fstream f(dir / "events.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-2, std::ios::end);
    f.put('X');  // flips a byte of the last record: its CRC no longer matches
  }
  EmbeddedLog log(dir.path());
  EXPECT_EQ(read_all(log).size(), 2u);
}

TEST(EmbeddedLog, DamageInTheMiddleIsRefusedNotTruncated) {
  testing::TempDir dir;
  uint64_t second_record_at = 0;
  {
    EmbeddedLog log(dir.path());
    log.append({record(0)});
    second_record_at = std::filesystem::file_size(dir / "events.log");
    log.append({record(1)});
    log.append({record(2)});
  }
  const auto size = std::filesystem::file_size(dir / "events.log");
  {
    std::fstream f(dir / "events.log", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(second_record_at + 12));
    f.put('X');  // record 1 is damaged; record 2 after it is intact
  }
  EXPECT_THROW(EmbeddedLog log(dir.path()), std::runtime_error);
  EXPECT_EQ(std::filesystem::file_size(dir / "events.log"), size);  // nothing was cut
  // Readers still get the intact prefix.
  EmbeddedLog reader(dir.path(), EmbeddedLog::Mode::kReadOnly);
  EXPECT_EQ(read_all(reader).size(), 1u);
}

TEST(EmbeddedLog, ReadWaitsForNewRecords) {
  testing::TempDir dir;
  EmbeddedLog log(dir.path());
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    log.append({record(0)});
  });
  auto got = log.read(PartitionId(0), Offset(0), 10, 5s);
  writer.join();
  ASSERT_EQ(got.size(), 1u);
}

TEST(EmbeddedLog, OneWriterAtATimeReadersBeside) {
  testing::TempDir dir;
  EmbeddedLog writer(dir.path());
  writer.append({record(0)});
  EXPECT_THROW(EmbeddedLog second(dir.path()), std::runtime_error);
  EmbeddedLog reader(dir.path(), EmbeddedLog::Mode::kReadOnly);
  EXPECT_EQ(read_all(reader).size(), 1u);
  EXPECT_THROW(reader.append({record(1)}), Unavailable);
}

}  // namespace
}  // namespace cairn::eventlog
