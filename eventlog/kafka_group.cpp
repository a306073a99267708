#include "eventlog/kafka_group.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/logging.hpp"
#include "eventlog/kafka_client.hpp"

namespace cairn::eventlog {

namespace {
// Leaving the group first hands this member's partitions over at once, instead of after its
// session times out.
struct LeaveAndDestroy {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
}  // namespace

struct KafkaGroupMembership::Impl {
  std::string group;
  mutable std::mutex mu;
  std::set<int32_t> owned;
  std::unique_ptr<rd_kafka_t, LeaveAndDestroy> rk;
  std::atomic<bool> stopping{false};
  std::thread poller;  // keeps the membership alive and runs the rebalance callback

  ~Impl() {
    stopping = true;
    if (poller.joinable()) poller.join();
  }  // then rk leaves the group and is destroyed

  static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    std::set<int32_t> now;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_assign(rk, partitions);
      // Ownership only: no fetching through the group.
      rd_kafka_pause_partitions(rk, partitions);
      for (int i = 0; i < partitions->cnt; ++i) now.insert(partitions->elems[i].partition);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
    std::string list;
    for (int32_t p : now) list += (list.empty() ? "" : ",") + std::to_string(p);
    logging::info("partitions assigned", {{"group", self->group}, {"partitions", list}});
    std::lock_guard lock(self->mu);
    self->owned = std::move(now);
  }
};

KafkaGroupMembership::KafkaGroupMembership(const KafkaOptions& options, const std::string& group,
                                           std::chrono::milliseconds session_timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->group = group;
  auto conf = make_kafka_conf(
      options, {{"group.id", group},
                {"session.timeout.ms", std::to_string(session_timeout.count())},
                {"heartbeat.interval.ms",
                 std::to_string(std::max<int64_t>(100, session_timeout.count() / 3))},
                // The rebalance timeout: how long the group waits for members to rejoin. The poller
                // calls in every 100 ms, so it can be as short as the session.
                {"max.poll.interval.ms", std::to_string(session_timeout.count())},
                {"enable.auto.commit", "false"}});
  rd_kafka_conf_set_rebalance_cb(conf.get(), Impl::on_rebalance);
  rd_kafka_conf_set_opaque(conf.get(), impl_.get());
  impl_->rk.reset(make_kafka_client(RD_KAFKA_CONSUMER, std::move(conf)).release());
  rd_kafka_poll_set_consumer(impl_->rk.get());
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, options.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const auto err = rd_kafka_subscribe(impl_->rk.get(), topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (err) throw std::runtime_error(std::string("Kafka group subscribe: ") + rd_kafka_err2str(err));
  impl_->poller = std::thread([impl = impl_.get()] {
    while (!impl->stopping)
      if (rd_kafka_message_t* m = rd_kafka_consumer_poll(impl->rk.get(), 100))
        rd_kafka_message_destroy(m);  // errors are logged by librdkafka; paused: no data
  });
}

KafkaGroupMembership::~KafkaGroupMembership() = default;

bool KafkaGroupMembership::owns(PartitionId partition) const {
  std::lock_guard lock(impl_->mu);
  return impl_->owned.contains(partition.value());
}

}  // namespace cairn::eventlog
