// Distinct types for the identifiers that must never be mixed up (a UDID is not a command UUID,
// an offset is not a partition). Passing one where another is expected does not compile.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <utility>

namespace cairn {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  NamedType() = default;
  explicit NamedType(T v) : value_(std::move(v)) {}
  const T& value() const { return value_; }
  auto operator<=>(const NamedType&) const = default;

 private:
  T value_{};
};

using DeviceId = NamedType<std::string, struct DeviceIdTag>;        // the device's UDID
using CommandUuid = NamedType<std::string, struct CommandUuidTag>;  // CommandUUID of a command
using PartitionId = NamedType<int32_t, struct PartitionIdTag>;
using Offset = NamedType<int64_t, struct OffsetTag>;

// Where a record sits in the event log. Offsets are dense and start at 0 in each partition.
struct LogPosition {
  PartitionId partition;
  Offset offset;
  auto operator<=>(const LogPosition&) const = default;
};

}  // namespace cairn
