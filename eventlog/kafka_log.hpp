// The event log on Apache Kafka (librdkafka): one topic, N partitions, records keyed by device ID
// so a device's events stay in order in one partition, the event type in a "type" header.
//
// Appends go through one idempotent producer (acks=all, so a record is acknowledged only once
// the in-sync replicas have it; retries cannot duplicate or reorder it) and return when every
// record of the call is acknowledged, with its partition and offset. Brokers unreachable past
// `delivery_timeout` → Unavailable (ingest answers 503, never 401). A producer librdkafka
// declares fatally failed is replaced by the next append (the failed appends were 503s).
//
// Reads use the simple (group-less) consumer: a small pool of consumer handles, each streaming
// the partitions it was last asked for, so the projector and the dispatcher each keep a handle
// that is already positioned where they read next. Offsets are Kafka's own offsets.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "eventlog/event_log.hpp"

namespace cairn::eventlog {

struct KafkaOptions {
  std::string bootstrap_servers;  // host:port,host:port
  std::string topic = "cairn.events.v1";
  std::string client_id = "cairn";
  // How long an append may wait for the brokers before the device gets a 503.
  std::chrono::milliseconds delivery_timeout{10000};
  // How long a broker may hold a fetch when there is nothing new. Kafka answers a held fetch as
  // soon as data arrives, so this only sets how often an idle reader asks. librdkafka's mock
  // cluster (the test broker) holds it the full time even when data arrives: tests use ~2 ms.
  std::chrono::milliseconds fetch_wait{100};
  std::chrono::milliseconds metadata_timeout{10000};
};

class KafkaLog final : public EventLog {
 public:
  // Connects and reads the topic's partition count (throws Unavailable if the cluster or the
  // topic cannot be reached within metadata_timeout; the topic must exist).
  explicit KafkaLog(KafkaOptions options);
  ~KafkaLog() override;
  KafkaLog(const KafkaLog&) = delete;
  KafkaLog& operator=(const KafkaLog&) = delete;

  std::vector<LogPosition> append(std::vector<RecordToAppend> records) override;
  int32_t partition_count() const override;
  std::vector<LogRecord> read(PartitionId partition, Offset from, size_t max,
                              std::chrono::milliseconds wait) override;
  Offset end_offset(PartitionId partition) const override;

  // Puts the producer in the fatal state librdkafka enters when it cannot keep its idempotence
  // guarantee (librdkafka's own test hook), as brokers cannot be made to do it on demand.
  void fail_producer_for_testing();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::eventlog
