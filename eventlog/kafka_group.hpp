// Membership in a Kafka consumer group, used only to learn which partitions this process owns:
// dispatchers share the partitions of the log this way, and when one dies (its session times
// out) or leaves, the group gives its partitions to the others. The members never consume
// through the group (their partitions are paused): they read the log with their own positions,
// stored with their state, like every other Cairn reader.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "eventlog/kafka_log.hpp"

namespace cairn::eventlog {

class KafkaGroupMembership {
 public:
  // Joins `group` on the options' topic. A member that stops heartbeating for `session_timeout`
  // (crashed, partitioned away) loses its partitions to the others.
  KafkaGroupMembership(const KafkaOptions& options, const std::string& group,
                       std::chrono::milliseconds session_timeout);
  ~KafkaGroupMembership();  // leaves the group at once: the others take over without waiting
  KafkaGroupMembership(const KafkaGroupMembership&) = delete;
  KafkaGroupMembership& operator=(const KafkaGroupMembership&) = delete;

  // Whether `partition` is this member's now (thread-safe). Between a revocation and the next
  // assignment nothing is owned.
  bool owns(PartitionId partition) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::eventlog
