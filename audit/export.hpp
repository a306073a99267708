// An export for an auditor (JSON lines, docs/audit.md): each event with what proves it without
// the server — its record as the log holds it (key, type, value) and the Merkle path from its
// digest to the root of a signed checkpoint, which comes on a line of its own before the first
// event it proves. `cairn audit verify --export` (verify_export) checks such a file with only the
// public key.
#pragma once

#include <ostream>
#include <string>

#include "audit/ledger.hpp"
#include "eventlog/event_log.hpp"

namespace cairn::audit {

struct ExportFilter {
  std::string device;        // empty: every event
  std::string since, until;  // RFC 3339, [since, until); empty: open
  std::string type;          // empty: every type
};

// Writes the events matching `filter`, in log order per partition. Returns how many; those
// after the last checkpoint go without a proof (verify_export counts them as unsigned).
size_t write_export(std::ostream& out, eventlog::EventLog& log, const LedgerReader& ledger,
                    const ExportFilter& filter);

}  // namespace cairn::audit
