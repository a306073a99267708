#include "store/record_codec.hpp"

#include <gtest/gtest.h>

#include "projector/records.hpp"

namespace cairn::projector {
namespace {
using store::decode_record;
using store::encode_record;

TEST(RecordCodec, EveryFieldRoundTrips) {
  CommandRecord c;
  c.udid = "DEV-1";
  c.command_uuid = "CMD-1";
  c.request_type = "ProfileList";
  c.actor = std::string("admin\0binary-safe", 17);
  c.no_push = true;
  c.state = CommandState::kNotNow;
  c.queue_sequence = 1234567890123;
  c.deliveries = 3;
  c.not_now_count = 2;
  c.duplicate_results = 1;
  c.not_now_sequence = -1;
  c.result_partition = 7;
  c.result_offset = 42;
  const auto back = decode_record<CommandRecord>(encode_record(c));
  EXPECT_EQ(encode_record(back), encode_record(c));
  EXPECT_EQ(back.actor, c.actor);
  EXPECT_EQ(back.state, CommandState::kNotNow);
  EXPECT_EQ(back.queue_sequence, 1234567890123);
  EXPECT_EQ(back.not_now_sequence, -1);
  EXPECT_TRUE(back.no_push);
}

TEST(RecordCodec, DamagedRecordsAreRefusedNotMisread) {
  DeviceRecord d;
  d.udid = "DEV-1";
  d.session_start = 5;
  const auto bytes = encode_record(d);
  EXPECT_THROW(decode_record<DeviceRecord>(bytes.substr(0, bytes.size() - 1)), std::runtime_error);
  EXPECT_THROW(decode_record<DeviceRecord>(bytes + "x"), std::runtime_error);
}

}  // namespace
}  // namespace cairn::projector
