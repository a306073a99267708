// The Kafka test broker (ops/kafka_test_broker) as a child process, started like any external
// cluster: tests talk to it only over the Kafka wire protocol.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "tests/support/temp_dir.hpp"

namespace cairn::testing {

class KafkaTestBroker {
 public:
  // `outage_brokers`: how many brokers brokers_down() takes down (0: all of them).
  explicit KafkaTestBroker(int partitions = 4, std::string topic = "cairn.events.v1",
                           int outage_brokers = 0)
      : topic_(std::move(topic)) {
    const std::string file = dir_ / "bootstrap";
    const std::string count = std::to_string(partitions);
    const std::string outage = std::to_string(outage_brokers);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test, even one killed by a timeout
      ::execl(CAIRN_KAFKA_TEST_BROKER, "cairn-kafka-test-broker", "--partitions", count.c_str(),
              "--topic", topic_.c_str(), "--bootstrap-file", file.c_str(), "--outage-brokers",
              outage.c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 200 && bootstrap_.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      std::ifstream(file) >> bootstrap_;
    }
    if (bootstrap_.empty()) throw std::runtime_error("the Kafka test broker did not start");
  }
  ~KafkaTestBroker() { stop(); }
  KafkaTestBroker(const KafkaTestBroker&) = delete;
  KafkaTestBroker& operator=(const KafkaTestBroker&) = delete;

  const std::string& bootstrap_servers() const { return bootstrap_; }
  const std::string& topic() const { return topic_; }

  // The brokers (all, or the first `outage_brokers`) refuse connections (data kept) until
  // brokers_up().
  // Each returns once broker 1 (the first address) is seen refusing or taking connections.
  void brokers_down() {
    ::kill(pid_, SIGUSR1);
    wait_until_first_broker_accepts(false);
  }
  void brokers_up() {
    ::kill(pid_, SIGUSR2);
    wait_until_first_broker_accepts(true);
  }

  // Every broker gone for good (its data too: the mock keeps it in memory).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  void wait_until_first_broker_accepts(bool accepts) const {
    const auto first = bootstrap_.substr(0, bootstrap_.find(','));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(std::stoi(first.substr(first.rfind(':') + 1))));
    ::inet_pton(AF_INET, first.substr(0, first.rfind(':')).c_str(), &address.sin_addr);
    for (int i = 0; i < 500; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      const bool accepted =
          ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
      ::close(fd);
      if (accepted == accepts) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("the Kafka test broker did not change state");
  }

  TempDir dir_;
  std::string topic_;
  std::string bootstrap_;
  pid_t pid_ = -1;
};

}  // namespace cairn::testing
