// What every librdkafka handle Cairn opens shares (the log's producer and readers, the
// dispatchers' group membership): RAII handles, the common settings, and librdkafka's log lines
// routed into Cairn's JSON log. Internal to eventlog/.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "eventlog/kafka_log.hpp"

namespace cairn::eventlog {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

// The options' brokers and client id, the shared settings, then `settings` (which win).
ConfPtr make_kafka_conf(const KafkaOptions& options,
                        const std::map<std::string, std::string>& settings);
// A client from `conf` (which it takes over); throws if librdkafka refuses.
KafkaPtr make_kafka_client(rd_kafka_type_t type, ConfPtr conf);

}  // namespace cairn::eventlog
