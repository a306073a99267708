// cairn-kafka-test-broker: a Kafka cluster for tests and CI on machines where Apache Kafka can't
// be installed. It hosts librdkafka's mock cluster (rdkafka_mock.h): brokers that speak the Kafka
// wire protocol on real loopback TCP ports, keeping everything in memory. Any Kafka client
// (Cairn, kcat) talks to it as to a real cluster.
//
//   cairn-kafka-test-broker [--brokers 3] [--topic cairn.events.v1] [--partitions 8]
//                           [--bootstrap-file F] [--outage-brokers N]
//
// Prints "bootstrap.servers=HOST:PORT,..." on stdout once the topic exists (and writes the list
// to --bootstrap-file, for scripts), then serves until SIGTERM or SIGINT. SIGUSR1 takes every
// broker down (connections refused, data kept), or only the first N with --outage-brokers N (the
// partitions they lead fail, the others go on), SIGUSR2 brings them back: an outage and its end
// for tests. Ports are chosen by the kernel: librdkafka 2.0 cannot fix them.
//
// Limits of the mock (librdkafka 2.0.2), which tests must respect: acks are accepted but nothing
// is replicated; each partition keeps at most 5 MiB or 100,000 message sets (older ones are
// dropped, as retention would); no TLS or SASL; no CreateTopics (topics are made here).
#include <librdkafka/rdkafka.h>
// rdkafka_mock.h requires rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <string>

namespace {

const char* kUsage =
    "usage: cairn-kafka-test-broker [--brokers N (3)] [--topic T (cairn.events.v1)]\n"
    "                               [--partitions N (8)] [--bootstrap-file F]\n"
    "                               [--outage-brokers N (0: all)]\n";

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct MockClusterDeleter {
  void operator()(rd_kafka_mock_cluster_t* c) const { rd_kafka_mock_cluster_destroy(c); }
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> o{{"brokers", "3"},
                                       {"topic", "cairn.events.v1"},
                                       {"partitions", "8"},
                                       {"bootstrap-file", ""},
                                       {"outage-brokers", ""}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!a.starts_with("--") || !o.contains(a.substr(2)) || i + 1 >= argc) {
      std::cerr << kUsage;
      return a == "--help" ? 0 : 2;
    }
    o[a.substr(2)] = argv[++i];
  }
  // Block the stop signals before librdkafka starts its threads, so only sigwait sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  char error[512];
  // The mock cluster lives inside a client handle; this one never connects anywhere (errors
  // only: its "no bootstrap.servers" warning would mislead).
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", error, sizeof error);
  std::unique_ptr<rd_kafka_t, KafkaDeleter> host(
      rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error));
  if (!host) {
    std::cerr << "cairn-kafka-test-broker: " << error << "\n";
    return 1;
  }
  {
    // Destroyed before the host handle, as librdkafka requires.
    std::unique_ptr<rd_kafka_mock_cluster_t, MockClusterDeleter> cluster(
        rd_kafka_mock_cluster_new(host.get(), std::stoi(o["brokers"])));
    if (!cluster) {
      std::cerr << "cairn-kafka-test-broker: cannot start the mock cluster\n";
      return 1;
    }
    const int replication = std::min(3, std::stoi(o["brokers"]));
    if (const auto err = rd_kafka_mock_topic_create(cluster.get(), o["topic"].c_str(),
                                                    std::stoi(o["partitions"]), replication)) {
      std::cerr << "cairn-kafka-test-broker: cannot create " << o["topic"] << ": "
                << rd_kafka_err2str(err) << "\n";
      return 1;
    }
    // Leaders in a fixed order (partition p on broker p % brokers + 1), not the mock's random
    // one, so an outage of the first brokers hits the same partitions in every run.
    const int brokers = std::stoi(o["brokers"]);
    for (int p = 0; p < std::stoi(o["partitions"]); ++p)
      rd_kafka_mock_partition_set_leader(cluster.get(), o["topic"].c_str(), p, p % brokers + 1);
    const std::string bootstrap = rd_kafka_mock_cluster_bootstraps(cluster.get());
    if (!o["bootstrap-file"].empty()) {
      // Written whole under another name, then renamed: a reader never sees half a list.
      const std::string partial = o["bootstrap-file"] + ".partial";
      std::ofstream(partial) << bootstrap << "\n";
      std::rename(partial.c_str(), o["bootstrap-file"].c_str());
    }
    std::cout << "bootstrap.servers=" << bootstrap << std::endl;
    const int asked = o["outage-brokers"].empty() ? 0 : std::stoi(o["outage-brokers"]);
    const int outage = asked > 0 ? std::min(asked, brokers) : brokers;  // 0: every broker
    for (int signal = 0;
         sigwait(&signals, &signal) == 0 && signal != SIGTERM && signal != SIGINT;) {
      for (int32_t id = 1; id <= outage; ++id)
        if (signal == SIGUSR1)
          rd_kafka_mock_broker_set_down(cluster.get(), id);
        else
          rd_kafka_mock_broker_set_up(cluster.get(), id);
      std::cout << (signal == SIGUSR1 ? "brokers down" : "brokers up") << std::endl;
    }
  }
  return 0;
}
