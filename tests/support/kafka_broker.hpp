// The Kafka test broker (ops/kafka_test_broker) as a child process, started like any external
// cluster: tests talk to it only over the Kafka wire protocol.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
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
  explicit KafkaTestBroker(int partitions = 4, std::string topic = "cairn.events.v1")
      : topic_(std::move(topic)) {
    const std::string file = dir_ / "bootstrap";
    const std::string count = std::to_string(partitions);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test, even one killed by a timeout
      ::execl(CAIRN_KAFKA_TEST_BROKER, "cairn-kafka-test-broker", "--partitions", count.c_str(),
              "--topic", topic_.c_str(), "--bootstrap-file", file.c_str(), nullptr);
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

  // Every broker refuses connections (data kept) until brokers_up().
  void brokers_down() { ::kill(pid_, SIGUSR1); }
  void brokers_up() { ::kill(pid_, SIGUSR2); }

  // Every broker gone for good (its data too: the mock keeps it in memory).
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  TempDir dir_;
  std::string topic_;
  std::string bootstrap_;
  pid_t pid_ = -1;
};

}  // namespace cairn::testing
