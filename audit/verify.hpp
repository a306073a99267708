// `cairn audit verify`: is the log what was signed? (docs/audit.md)
//
// verify_log recomputes every partition's chain from the log and checks it, and the Merkle root
// of each checkpoint's range, against every checkpoint a trusted key signed (found in the log and
// in the ledger, so removing checkpoints from the log hides nothing the ledger read). With the
// ledger as witness, each record is also compared with what the ledger read at its offset, which
// names the event that was changed, removed, inserted or moved, not only its checkpoint's range.
//
// verify_export checks an export (audit/export.hpp) without the server: each event against the
// signed checkpoint its proof leads to.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "audit/ledger.hpp"
#include "eventlog/event_log.hpp"

namespace cairn::audit {

struct Finding {
  int32_t partition = 0;
  int64_t offset = -1;
  std::string event_id;  // the event named, when known
  std::string what;
};

struct Report {
  uint64_t records = 0;
  uint64_t checkpoints_verified = 0;  // signed by a trusted key and matching the log
  uint64_t unsigned_records = 0;      // after the last checkpoint of their partition
  std::vector<Finding> findings;
  bool intact() const { return findings.empty(); }
};

// `public_keys`: raw Ed25519 keys trusted to sign checkpoints. `witness` may be null.
Report verify_log(eventlog::EventLog& log, const LedgerReader* witness,
                  const std::vector<std::string>& public_keys);

Report verify_export(std::istream& in, const std::vector<std::string>& public_keys);

// "partition 0, offset 12, event <id>: <what>"
std::string describe(const Finding& f);

}  // namespace cairn::audit
