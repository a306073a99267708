// What every EventLog must do, run against each backend: the embedded log, and the Kafka log
// on the Kafka test broker (a separate process speaking the Kafka wire protocol).
#include <gtest/gtest.h>

#include <iterator>
#include <map>
#include <thread>

#include "common/errors.hpp"
#include "eventlog/embedded_log.hpp"
#include "eventlog/kafka_log.hpp"
#include "tests/support/kafka_broker.hpp"
#include "tests/support/temp_dir.hpp"

namespace cairn::eventlog {
namespace {

using namespace std::chrono_literals;

// Opens logs of one backend; every log it opens shares the same storage.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::unique_ptr<EventLog> open() = 0;
};

class Embedded : public Backend {
 public:
  // One writer per directory (the embedded log locks it); later opens are readers.
  std::unique_ptr<EventLog> open() override {
    return std::make_unique<EmbeddedLog>(
        dir_.path(), opened_++ ? EmbeddedLog::Mode::kReadOnly : EmbeddedLog::Mode::kReadWrite);
  }

 private:
  testing::TempDir dir_;
  int opened_ = 0;
};

class Kafka : public Backend {
 public:
  explicit Kafka(int outage_brokers = 0) : broker_(4, "cairn.events.v1", outage_brokers) {}
  std::unique_ptr<EventLog> open() override { return std::make_unique<KafkaLog>(options()); }
  KafkaOptions options() const {
    KafkaOptions o;
    o.bootstrap_servers = broker_.bootstrap_servers();
    o.fetch_wait = 2ms;  // the test broker holds fetches (see KafkaOptions)
    return o;
  }
  testing::KafkaTestBroker broker_;
};

class EventLogContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "embedded")
      backend_ = std::make_unique<Embedded>();
    else
      backend_ = std::make_unique<Kafka>();
    log_ = backend_->open();
  }
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<EventLog> log_;
};

RecordToAppend record(const std::string& device, int n) {
  return {device, "Type" + std::to_string(n % 3), device + " event " + std::to_string(n)};
}

// The records of [from, until), read as a consumer must: a read returns *up to* `max` (Kafka
// hands out one fetched message set at a time), so read on until the range is whole.
std::vector<LogRecord> read_range(EventLog& log, PartitionId p, Offset from, Offset until) {
  std::vector<LogRecord> out;
  for (Offset at = from; at < until;) {
    auto records = log.read(p, at, static_cast<size_t>(until.value() - at.value()), 1s);
    if (records.empty()) break;  // the range ends early: the caller's assertions say so
    at = Offset(records.back().position.offset.value() + 1);
    std::move(records.begin(), records.end(), std::back_inserter(out));
  }
  return out;
}

TEST_P(EventLogContract, AppendsReturnPositionsAndReadBackWhole) {
  std::vector<RecordToAppend> batch;
  for (int n = 0; n < 30; ++n) batch.push_back(record("DEVICE-" + std::to_string(n % 5), n));
  const auto positions = log_->append(batch);
  ASSERT_EQ(positions.size(), batch.size());
  std::map<std::string, LogPosition> last;  // per device: one partition, offsets rising
  for (size_t i = 0; i < batch.size(); ++i) {
    ASSERT_LT(positions[i].partition.value(), log_->partition_count());
    if (auto it = last.find(batch[i].key); it != last.end()) {
      EXPECT_EQ(positions[i].partition, it->second.partition) << batch[i].key;
      EXPECT_GT(positions[i].offset, it->second.offset) << batch[i].key;
    }
    last[batch[i].key] = positions[i];
  }
  // Read back through another instance, as another process would.
  auto reader = backend_->open();
  size_t seen = 0;
  for (int32_t p = 0; p < reader->partition_count(); ++p) {
    const Offset end = reader->end_offset(PartitionId(p));
    const auto records = read_range(*reader, PartitionId(p), Offset(0), end);
    EXPECT_EQ(end.value(), records.empty() ? 0 : records.back().position.offset.value() + 1);
    for (const auto& r : records) {
      const auto i = static_cast<size_t>(
          std::find_if(positions.begin(), positions.end(),
                       [&](const LogPosition& at) { return at == r.position; }) -
          positions.begin());
      ASSERT_LT(i, batch.size()) << "a record nobody appended";
      EXPECT_EQ(r.key, batch[i].key);
      EXPECT_EQ(r.type, batch[i].type);
      EXPECT_EQ(r.value, batch[i].value);
      ++seen;
    }
  }
  EXPECT_EQ(seen, batch.size());
}

// Device-less events (push certificates) have an empty key; the projection relies on them sharing
// one partition, in order (projector/keys.hpp). An empty key is not a missing one: Kafka's
// partitioner hashes it rather than spreading the records at random.
TEST_P(EventLogContract, RecordsWithAnEmptyKeyShareOnePartition) {
  std::vector<RecordToAppend> batch;
  for (int n = 0; n < 12; ++n) batch.push_back(record("", n));
  const auto positions = log_->append(batch);
  for (size_t i = 1; i < positions.size(); ++i) {
    EXPECT_EQ(positions[i].partition, positions[0].partition);
    EXPECT_GT(positions[i].offset, positions[i - 1].offset);
  }
}

TEST_P(EventLogContract, ReadsFromAnyOffsetAndBackAgain) {
  std::vector<RecordToAppend> batch;
  for (int n = 0; n < 20; ++n) batch.push_back(record("ONE-DEVICE", n));
  const auto positions = log_->append(batch);
  const PartitionId p = positions[0].partition;
  const int64_t first = positions[0].offset.value();
  auto later = read_range(*log_, p, Offset(first + 12), Offset(first + 15));
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].value, "ONE-DEVICE event 12");
  auto again = log_->read(p, Offset(first + 2), 1, 0ms);  // backwards: repositioned
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].value, "ONE-DEVICE event 2");
  auto next = read_range(*log_, p, Offset(first + 3), Offset(first + 20));  // streaming on
  ASSERT_EQ(next.size(), 17u);
  EXPECT_EQ(next.back().value, "ONE-DEVICE event 19");
  EXPECT_TRUE(log_->read(p, Offset(first + 20), 100, 0ms).empty());
}

TEST_P(EventLogContract, AWaitingReadReturnsWhatIsAppendedMeanwhile) {
  const auto p = log_->append({record("WAITER", 0)})[0];
  std::vector<LogRecord> got;
  std::thread reader([&] {
    // Generous: the append below normally lands within milliseconds.
    got = log_->read(p.partition, Offset(p.offset.value() + 1), 10, 20s);
  });
  std::this_thread::sleep_for(50ms);
  log_->append({record("WAITER", 1)});
  reader.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].value, "WAITER event 1");
}

INSTANTIATE_TEST_SUITE_P(Backends, EventLogContract, ::testing::Values("embedded", "kafka"),
                         [](const auto& info) { return info.param; });

// Kafka only: when the brokers go away, appends fail with Unavailable (ingest answers 503) within
// the delivery timeout instead of hanging, and a node cannot start against no cluster.
TEST(KafkaLog, BrokersGoneMeansUnavailableNotAHang) {
  Kafka kafka;
  auto options = kafka.options();
  options.delivery_timeout = 1500ms;
  KafkaLog log(options);
  log.append({record("BEFORE", 0)});
  kafka.broker_.stop();
  EXPECT_THROW(log.append({record("DURING", 1)}), Unavailable);
  options.metadata_timeout = 1000ms;
  EXPECT_THROW(KafkaLog{options}, Unavailable);
}

// Kafka only (the embedded log writes a call's records together): an append cut by an outage
// of one broker fails with Unavailable, and what of it became durable (the partitions the other
// brokers lead) is whole, in order per device and not duplicated; the caller's repeat after the
// outage lands completely after it. The contract in event_log.hpp that callers are written to.
TEST(KafkaLog, AFailedAppendLeavesWholeRecordsInOrderAndARepeatLandsAfterThem) {
  Kafka kafka(/*outage_brokers=*/1);
  auto options = kafka.options();
  options.delivery_timeout = 1500ms;
  KafkaLog log(options);
  constexpr int kDevices = 8, kPerDevice = 400;
  std::vector<RecordToAppend> batch;
  for (int n = 0; n < kDevices * kPerDevice; ++n)
    batch.push_back(record("CUT-" + std::to_string(n % kDevices), n));
  kafka.broker_.brokers_down();
  EXPECT_THROW(log.append(batch), Unavailable);
  kafka.broker_.brokers_up();
  log.append(batch);  // the caller's repeat

  std::map<std::string, std::vector<int>> seen;  // per device, the event numbers in log order
  for (int32_t p = 0; p < log.partition_count(); ++p) {
    const Offset end = log.end_offset(PartitionId(p));
    const auto records = read_range(log, PartitionId(p), Offset(0), end);
    ASSERT_EQ(records.empty() ? 0 : records.back().position.offset.value() + 1, end.value())
        << "partition " << p << " ends early";
    for (const auto& r : records) {
      const std::string prefix = r.key + " event ";
      ASSERT_TRUE(r.value.starts_with(prefix)) << "not a whole record: " << r.value;
      const int n = std::stoi(r.value.substr(prefix.size()));
      EXPECT_EQ(r.type, "Type" + std::to_string(n % 3));
      seen[r.key].push_back(n);
    }
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(kDevices));
  size_t left_by_failed_call = 0;
  for (const auto& [device, numbers] : seen) {
    ASSERT_GE(numbers.size(), static_cast<size_t>(kPerDevice)) << device;
    // The repeat, whole and in order, last...
    const std::vector<int> repeat(numbers.end() - kPerDevice, numbers.end());
    for (int i = 0; i < kPerDevice; ++i)
      ASSERT_EQ(repeat[i] / kDevices, i) << device << ": the repeat is not whole and in order";
    // ...after what the failed call left: rising (in order, no record twice).
    const std::vector<int> left(numbers.begin(), numbers.end() - kPerDevice);
    for (size_t i = 1; i < left.size(); ++i) EXPECT_GT(left[i], left[i - 1]) << device;
    left_by_failed_call += left.size();
  }
  EXPECT_GT(left_by_failed_call, 0u) << "the outage took every partition: nothing was partial";
}

// Kafka only: a producer librdkafka declares fatally failed refuses every message until it is
// destroyed. The log replaces it; appends go on without a restart, in order per device.
TEST(KafkaLog, AFatallyFailedProducerIsReplaced) {
  Kafka kafka;
  KafkaLog log(kafka.options());
  const auto before = log.append({record("FATAL", 0)})[0];
  log.fail_producer_for_testing();
  const auto after = log.append({record("FATAL", 1)})[0];
  EXPECT_EQ(after.partition, before.partition);
  EXPECT_GT(after.offset, before.offset);
  const auto records =
      read_range(log, before.partition, before.offset, Offset(after.offset.value() + 1));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].value, "FATAL event 1");
}

}  // namespace
}  // namespace cairn::eventlog
