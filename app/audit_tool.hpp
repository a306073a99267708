// `cairn audit`: the audit trail read beside a running node, or without one (docs/audit.md).
// The log is opened read-only (the embedded log of a data directory, or Kafka), the node's
// ledger (<data>/audit) read-only as the witness that names what changed.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "audit/export.hpp"
#include "audit/verify.hpp"
#include "eventlog/kafka_log.hpp"

namespace cairn::app {

// The keys checkpoints are signed with, derived from the data directory's keyring (raw; the
// signing key first).
std::vector<std::string> audit_public_keys(const std::string& data_dir);

audit::Report verify_audit_log(const std::string& data_dir,
                               const std::optional<eventlog::KafkaOptions>& kafka,
                               const std::vector<std::string>& public_keys);

size_t export_audit(const std::string& data_dir, const std::optional<eventlog::KafkaOptions>& kafka,
                    const audit::ExportFilter& filter, std::ostream& out);

}  // namespace cairn::app
