#include "eventlog/kafka_client.hpp"

#include <stdexcept>

#include "common/logging.hpp"

namespace cairn::eventlog {
namespace {

// librdkafka's own log lines (broker connections lost and back, ...) as Cairn's JSON log lines.
void on_log(const rd_kafka_t*, int level, const char* facility, const char* message) {
  if (level <= 3)
    logging::error("kafka", {{"facility", facility}, {"detail", message}});
  else
    logging::warn("kafka", {{"facility", facility}, {"detail", message}});
}

}  // namespace

ConfPtr make_kafka_conf(const KafkaOptions& options,
                        const std::map<std::string, std::string>& settings) {
  ConfPtr conf(rd_kafka_conf_new());
  rd_kafka_conf_set_log_cb(conf.get(), on_log);
  std::map<std::string, std::string> all{{"bootstrap.servers", options.bootstrap_servers},
                                         {"client.id", options.client_id},
                                         {"socket.nagle.disable", "true"},
                                         // Back within a second of a broker's return (the
                                         // Java client's default; librdkafka's is 10 s).
                                         {"reconnect.backoff.max.ms", "1000"},
                                         {"log_level", "4"}};
  for (const auto& [k, v] : settings) all[k] = v;
  char error[512];
  for (const auto& [k, v] : all)
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK)
      throw std::invalid_argument("Kafka setting " + k + "=" + v + ": " + error);
  return conf;
}

KafkaPtr make_kafka_client(rd_kafka_type_t type, ConfPtr conf) {
  char error[512];
  KafkaPtr rk(rd_kafka_new(type, conf.get(), error, sizeof error));
  if (!rk) throw std::runtime_error(std::string("Kafka client: ") + error);
  conf.release();  // rd_kafka_new owns it now
  return rk;
}

}  // namespace cairn::eventlog
