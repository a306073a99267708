#include "eventlog/kafka_log.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "eventlog/kafka_client.hpp"

namespace cairn::eventlog {
namespace {

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

constexpr const char* kTypeHeader = "type";
// Consumer handles beyond one per partition (the projector reads each partition on its own
// thread): the dispatcher, admin reads of stored results, replay.
constexpr size_t kSpareReaders = 4;

// One append() call's records: the delivery reports (on the poller thread) fill it in.
struct Delivery {
  std::mutex mu;
  std::condition_variable done;
  size_t remaining = 0;
  std::vector<LogPosition> positions;
  std::vector<bool> offset_unknown;
  std::string error;
  struct Ref {
    Delivery* delivery;
    size_t index;
  };
  std::vector<Ref> refs;  // each message's opaque points at its Ref

  void finish(size_t index, int32_t partition, int64_t offset, const char* failure) {
    std::lock_guard lock(mu);
    if (failure) {
      if (error.empty()) error = failure;
    } else {
      positions[index] = {PartitionId(partition), Offset(offset < 0 ? 0 : offset)};
      // With idempotence a retried message may come back without its offset.
      offset_unknown[index] = offset < 0;
    }
    if (--remaining == 0) done.notify_all();
  }
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* ref = static_cast<Delivery::Ref*>(m->_private);
  ref->delivery->finish(ref->index, m->partition, m->offset,
                        m->err ? rd_kafka_err2str(m->err) : nullptr);
}

// The idempotent producer and the thread serving its delivery reports. Replaced as a whole when
// librdkafka declares it fatally failed (an idempotence guarantee it can no longer keep, e.g.
// the brokers lost its sequence state): such a handle refuses every message until destroyed.
struct Producer {
  KafkaPtr rk;
  TopicPtr topic;
  std::atomic<bool> stopping{false};
  std::thread poller;

  explicit Producer(const KafkaOptions& options) {
    auto conf = make_kafka_conf(
        options, {{"enable.idempotence", "true"},  // implies acks=all, ordered retries
                  {"acks", "all"},
                  {"linger.ms", "0"},
                  {"message.timeout.ms", std::to_string(options.delivery_timeout.count())},
                  // The Java client's partitioner: other producers agree on partitions.
                  {"partitioner", "murmur2_random"}});
    rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
    rk = make_kafka_client(RD_KAFKA_PRODUCER, std::move(conf));
    topic.reset(rd_kafka_topic_new(rk.get(), options.topic.c_str(), nullptr));
    if (!topic) throw std::runtime_error("Kafka topic handle: " + options.topic);
    poller = std::thread([this] {
      while (!stopping) rd_kafka_poll(rk.get(), 100);
    });
  }
  ~Producer() {
    // Appends wait for their reports, so nothing is in flight that a caller still waits for.
    rd_kafka_flush(rk.get(), 1000);
    stopping = true;
    poller.join();
  }
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Why it failed fatally, or nullopt while it works.
  std::optional<std::string> fatal_error() const {
    char reason[512];
    if (!rd_kafka_fatal_error(rk.get(), reason, sizeof reason)) return std::nullopt;
    return std::string(reason);
  }
};

// A consumer handle and where each partition it streams is next.
struct Reader {
  KafkaPtr rk;
  TopicPtr topic;
  std::map<int32_t, int64_t> next;  // started partitions → the offset the next message has
  bool busy = false;
};

}  // namespace

struct KafkaLog::Impl {
  KafkaOptions options;
  int32_t partitions = 0;

  std::mutex producer_mu;
  std::shared_ptr<Producer> producer;  // appends in flight share the one they started on

  // The producer to append with: a new one if the current one failed fatally. Appends that were
  // in flight on the failed one fail (their devices retry); none is lost unacknowledged.
  std::shared_ptr<Producer> working_producer() {
    std::lock_guard lock(producer_mu);
    if (auto why = producer->fatal_error()) {
      logging::error("Kafka producer failed fatally; replacing it", {{"error", *why}});
      producer = std::make_shared<Producer>(options);
    }
    return producer;
  }

  std::mutex readers_mu;
  std::condition_variable reader_free;
  std::vector<std::unique_ptr<Reader>> readers;

  std::unique_ptr<Reader> make_reader() const {
    auto r = std::make_unique<Reader>();
    // Simple consumer: no group; positions are the caller's (stored with its state).
    // auto.offset.reset=error: an offset the brokers no longer hold is an error to report,
    // never a silent jump to another position.
    r->rk = make_kafka_client(
        RD_KAFKA_CONSUMER,
        make_kafka_conf(options, {{"enable.partition.eof", "false"},
                                  {"auto.offset.reset", "error"},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"fetch.wait.max.ms", std::to_string(options.fetch_wait.count())},
                                  {"fetch.error.backoff.ms", "100"},
                                  {"queued.max.messages.kbytes", "8192"}}));
    r->topic.reset(rd_kafka_topic_new(r->rk.get(), options.topic.c_str(), nullptr));
    if (!r->topic) throw std::runtime_error("Kafka topic handle: " + options.topic);
    return r;
  }

  // A free reader, preferring one already streaming `partition` from `from`.
  Reader& acquire(int32_t partition, int64_t from) {
    std::unique_lock lock(readers_mu);
    while (true) {
      Reader* idle = nullptr;
      for (auto& r : readers) {
        if (r->busy) continue;
        const auto it = r->next.find(partition);
        if (it != r->next.end() && it->second == from) {
          r->busy = true;
          return *r;
        }
        if (!idle) idle = r.get();
      }
      if (readers.size() < static_cast<size_t>(partitions) + kSpareReaders) {
        readers.push_back(make_reader());
        readers.back()->busy = true;
        return *readers.back();
      }
      if (idle) {
        idle->busy = true;
        return *idle;
      }
      reader_free.wait(lock);
    }
  }

  void release(Reader& r) {
    std::lock_guard lock(readers_mu);
    r.busy = false;
    reader_free.notify_one();
  }

  static void stop_partition(Reader& r, int32_t partition) {
    rd_kafka_consume_stop(r.topic.get(), partition);
    r.next.erase(partition);
  }
};

KafkaLog::KafkaLog(KafkaOptions options) : impl_(std::make_unique<Impl>()) {
  auto& m = *impl_;
  m.options = std::move(options);
  if (m.options.bootstrap_servers.empty())
    throw std::invalid_argument("Kafka log: no bootstrap servers");
  m.producer = std::make_shared<Producer>(m.options);
  const rd_kafka_metadata_t* raw = nullptr;
  const auto err = rd_kafka_metadata(m.producer->rk.get(), 0, m.producer->topic.get(), &raw,
                                     static_cast<int>(m.options.metadata_timeout.count()));
  std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter> metadata(raw);
  if (err) throw Unavailable("Kafka cluster unreachable: " + std::string(rd_kafka_err2str(err)));
  if (metadata->topic_cnt != 1 || metadata->topics[0].err || metadata->topics[0].partition_cnt < 1)
    throw Unavailable(
        "Kafka topic " + m.options.topic + " not available: " +
        (metadata->topic_cnt == 1 ? rd_kafka_err2str(metadata->topics[0].err) : "no metadata"));
  m.partitions = metadata->topics[0].partition_cnt;
}

KafkaLog::~KafkaLog() {
  auto& m = *impl_;
  for (auto& r : m.readers)
    for (const auto& [partition, _] : std::map<int32_t, int64_t>(r->next))
      Impl::stop_partition(*r, partition);
}

std::vector<LogPosition> KafkaLog::append(std::vector<RecordToAppend> records) {
  const auto producer = impl_->working_producer();
  Delivery d;
  d.remaining = records.size();
  d.positions.resize(records.size());
  d.offset_unknown.resize(records.size());
  d.refs.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    d.refs.push_back({&d, i});
    const auto& r = records[i];
    const auto err = rd_kafka_producev(
        producer->rk.get(), RD_KAFKA_V_RKT(producer->topic.get()),
        RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(r.value.data()), r.value.size()),
        RD_KAFKA_V_HEADER(kTypeHeader, r.type.data(), static_cast<ssize_t>(r.type.size())),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&d.refs.back()),
        RD_KAFKA_V_END);
    if (err) d.finish(i, 0, 0, rd_kafka_err2str(err));  // never queued: no report will come
  }
  std::unique_lock lock(d.mu);
  // Every queued message gets a report within message.timeout.ms, success or failure.
  d.done.wait(lock, [&] { return d.remaining == 0; });
  if (!d.error.empty()) throw Unavailable("Kafka append failed: " + d.error);
  for (size_t i = 0; i < records.size(); ++i) {
    if (!d.offset_unknown[i]) continue;
    // Stored, offset not reported: the partition's end is an offset at or after it, which is
    // what a caller waiting for "applied up to here" needs.
    const Offset end = end_offset(d.positions[i].partition);
    d.positions[i].offset = Offset(end.value() - 1);
  }
  return d.positions;
}

void KafkaLog::fail_producer_for_testing() {
  rd_kafka_test_fatal_error(impl_->working_producer()->rk.get(),
                            RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, "injected by a test");
}

int32_t KafkaLog::partition_count() const {
  return impl_->partitions;
}

std::vector<LogRecord> KafkaLog::read(PartitionId partition, Offset from, size_t max,
                                      std::chrono::milliseconds wait) {
  auto& m = *impl_;
  const int32_t p = partition.value();
  Reader& r = m.acquire(p, from.value());
  struct Release {
    Impl& m;
    Reader& r;
    ~Release() { m.release(r); }
  } release{m, r};
  const auto it = r.next.find(p);
  if (it != r.next.end() && it->second != from.value()) Impl::stop_partition(r, p);
  if (!r.next.contains(p)) {
    if (rd_kafka_consume_start(r.topic.get(), p, from.value()) == -1)
      throw Unavailable("Kafka read of partition " + std::to_string(p) + ": " +
                        rd_kafka_err2str(rd_kafka_last_error()));
    r.next[p] = from.value();
  }
  std::vector<MessagePtr> messages;
  auto take_ready = [&](size_t n) {
    std::vector<rd_kafka_message_t*> batch(n);
    const ssize_t got = rd_kafka_consume_batch(r.topic.get(), p, 0, batch.data(), n);
    for (ssize_t i = 0; i < got; ++i) messages.emplace_back(batch[static_cast<size_t>(i)]);
  };
  take_ready(max);
  if (messages.empty()) {
    // Durable records are fetched asynchronously: a caller that does not want to wait (catching
    // up, reading one record) must still get the ones that exist, so wait for their fetch.
    auto budget = wait;
    if (wait.count() == 0 && from < end_offset(partition)) budget = m.options.metadata_timeout;
    // consume_batch would wait out the whole timeout for a full batch; wait for one instead.
    if (budget.count() > 0)
      if (auto* first = rd_kafka_consume(r.topic.get(), p, static_cast<int>(budget.count()))) {
        messages.emplace_back(first);
        if (max > 1) take_ready(max - 1);
      }
  }
  std::vector<LogRecord> out;
  out.reserve(messages.size());
  for (const auto& msg : messages) {
    if (msg->err) {
      const std::string why = rd_kafka_message_errstr(msg.get());
      const int64_t expected = r.next[p];
      Impl::stop_partition(r, p);  // the next read starts over from the caller's position
      if (msg->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
          msg->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE)
        throw std::runtime_error("Kafka partition " + std::to_string(p) +
                                 " no longer holds offset " + std::to_string(expected) + " (" +
                                 why + "): events were deleted by retention or the topic changed");
      throw Unavailable("Kafka read of partition " + std::to_string(p) + ": " + why);
    }
    LogRecord rec;
    rec.position = {partition, Offset(msg->offset)};
    if (msg->key) rec.key.assign(static_cast<const char*>(msg->key), msg->key_len);
    rec.value.assign(static_cast<const char*>(msg->payload), msg->len);
    rd_kafka_headers_t* headers = nullptr;
    const void* type = nullptr;
    size_t type_size = 0;
    if (rd_kafka_message_headers(msg.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, kTypeHeader, &type, &type_size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        type)
      rec.type.assign(static_cast<const char*>(type), type_size);
    r.next[p] = msg->offset + 1;
    out.push_back(std::move(rec));
  }
  return out;
}

Offset KafkaLog::end_offset(PartitionId partition) const {
  int64_t low = 0, high = 0;
  const auto err = rd_kafka_query_watermark_offsets(
      impl_->working_producer()->rk.get(), impl_->options.topic.c_str(), partition.value(), &low,
      &high, static_cast<int>(impl_->options.metadata_timeout.count()));
  if (err)
    throw Unavailable("Kafka end offset of partition " + std::to_string(partition.value()) + ": " +
                      rd_kafka_err2str(err));
  return Offset(high);
}

}  // namespace cairn::eventlog
