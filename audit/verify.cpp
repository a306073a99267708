#include "audit/verify.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <limits>
#include <map>

#include "audit/chain.hpp"
#include "audit/checkpoint.hpp"
#include "audit/export.hpp"
#include "common/encoding.hpp"

namespace cairn::audit {
namespace {

constexpr size_t kReadChunk = 4096;

std::string event_id_of(const eventlog::LogRecord& record) {
  try {
    return events::decode(record.value, events::Bodies::kSkip).id;
  } catch (const std::runtime_error&) {
    return {};
  }
}

std::string what_it_was(const Entry& e) {
  return e.type + (e.time.empty() ? "" : " of " + e.time) +
         (e.device.empty() ? "" : " for " + e.device);
}

// Every checkpoint signed by a trusted key, per partition, sorted by range; the others are
// findings.
using Checkpoints = std::map<int32_t, std::vector<events::AuditCheckpointed>>;

Checkpoints trusted_checkpoints(eventlog::EventLog& log, const LedgerReader* witness,
                                const std::vector<std::string>& public_keys, Report& report) {
  Checkpoints out;
  std::map<std::string, bool> seen;  // by signature
  auto take = [&](events::AuditCheckpointed c, int32_t at_partition, int64_t at_offset) {
    if (seen.contains(c.signature)) return;
    const bool valid = signature_valid(c, public_keys);
    seen[c.signature] = valid;
    if (valid)
      out[c.partition].push_back(std::move(c));
    else
      report.findings.push_back(
          {at_partition,
           at_offset,
           {},
           "a checkpoint no trusted key signed (forged, altered, or signed with a key not given)"});
  };
  for (int32_t p = 0; p < log.partition_count(); ++p)
    for (Offset from(0);;) {
      const auto records = log.read(PartitionId(p), from, kReadChunk, std::chrono::milliseconds(0));
      if (records.empty()) break;
      for (const auto& r : records) {
        if (r.type != events::AuditCheckpointed::kType) continue;
        try {
          const auto e = events::decode(r.value, events::Bodies::kSkip);
          if (const auto* c = std::get_if<events::AuditCheckpointed>(&e.payload))
            take(*c, p, r.position.offset.value());
        } catch (const std::runtime_error&) {
          // An unreadable record: the chain and the witness name it.
        }
      }
      from = Offset(records.back().position.offset.value() + 1);
    }
  if (witness)
    for (int32_t p = 0; p < log.partition_count(); ++p)
      for (auto& c : witness->checkpoints(PartitionId(p))) take(std::move(c), p, -1);
  for (auto& [p, list] : out)
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return std::tie(a.next_offset, a.first_offset) < std::tie(b.next_offset, b.first_offset);
    });
  return out;
}

// One partition, record by record.
class PartitionCheck {
 public:
  PartitionCheck(int32_t partition, std::vector<events::AuditCheckpointed> checkpoints,
                 const LedgerReader* witness, Report& report)
      : partition_(partition),
        checkpoints_(std::move(checkpoints)),
        witness_(witness),
        report_(report),
        chain_(genesis()) {
    lowest_first_.resize(checkpoints_.size() + 1, std::numeric_limits<int64_t>::max());
    for (size_t k = checkpoints_.size(); k-- > 0;)
      lowest_first_[k] = std::min(lowest_first_[k + 1], checkpoints_[k].first_offset);
  }

  void check(const std::vector<eventlog::LogRecord>& records) {
    for (size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      const int64_t offset = r.position.offset.value();
      const auto digest = record_digest(r.key, r.type, r.value);
      chain_ = chain_link(chain_, digest);
      ++report_.records;
      if (next_ < checkpoints_.size() && offset >= lowest_first_[next_]) {
        if (window_.empty()) window_start_ = offset;
        window_.push_back(digest);
      }
      if (witness_) compare_with_witness(records, i, digest);
      while (next_ < checkpoints_.size() && checkpoints_[next_].next_offset == offset + 1)
        check_checkpoint(checkpoints_[next_++]);
      drop_window_below(next_ < checkpoints_.size() ? lowest_first_[next_]
                                                    : std::numeric_limits<int64_t>::max());
    }
  }

  void finish(int64_t end) {
    for (; next_ < checkpoints_.size(); ++next_)
      if (checkpoints_[next_].next_offset > end)
        add(end, {},
            "the log ends at offset " + std::to_string(end) + " but a checkpoint covers it up to " +
                std::to_string(checkpoints_[next_].next_offset) +
                ": records were removed from its end");
    if (witness_)
      if (const auto e = witness_->entry(PartitionId(partition_), end + shift_))
        add(end, e->id,
            "removed from the end of the log: the ledger read " + what_it_was(*e) + " here");
    const int64_t signed_to = checkpoints_.empty() ? 0 : checkpoints_.back().next_offset;
    if (end > signed_to) report_.unsigned_records += static_cast<uint64_t>(end - signed_to);
  }

 private:
  void add(int64_t offset, std::string id, std::string what) {
    report_.findings.push_back({partition_, offset, std::move(id), std::move(what)});
  }

  // Whether the witness already named an event in [first, next): then what the checkpoint says
  // of the range adds nothing.
  bool named_within(int64_t first, int64_t next) const {
    for (const auto& f : report_.findings)
      if (f.partition == partition_ && !f.event_id.empty() && f.offset >= first && f.offset < next)
        return true;
    return false;
  }

  void check_checkpoint(const events::AuditCheckpointed& c) {
    bool matches = true;
    const bool named = named_within(c.first_offset, c.next_offset);
    if (hex_encode(chain_) != c.chain) {
      matches = false;
      if (!chain_broken_ && !named_within(0, c.next_offset))
        add(c.next_offset - 1, {},
            "the chain does not match the checkpoint through this offset: a record at or before "
            "it was changed, removed, inserted or moved");
      chain_broken_ = true;
      if (auto signed_chain = hex_decode(c.chain)) chain_ = *signed_chain;  // check on from here
    }
    const auto first = c.first_offset - window_start_;
    const auto count = c.next_offset - c.first_offset;
    if (first >= 0 && first + count <= static_cast<int64_t>(window_.size())) {
      const std::vector<std::string> range(window_.begin() + first,
                                           window_.begin() + first + count);
      if (hex_encode(merkle_root(range)) != c.merkle_root) {
        matches = false;
        if (!named)
          add(c.first_offset, {},
              "offsets " + std::to_string(c.first_offset) + " to " +
                  std::to_string(c.next_offset - 1) +
                  " do not match their checkpoint's Merkle root: one of them was changed, removed, "
                  "inserted or moved");
      }
    }
    if (matches) ++report_.checkpoints_verified;
  }

  void drop_window_below(int64_t lowest) {
    if (window_.empty() || lowest <= window_start_) return;
    const auto drop = std::min<int64_t>(lowest - window_start_, window_.size());
    window_.erase(window_.begin(), window_.begin() + drop);
    window_start_ += drop;
  }

  // Names what happened at this offset since the ledger read it.
  void compare_with_witness(const std::vector<eventlog::LogRecord>& records, size_t i,
                            const std::string& digest) {
    if (skip_next_) {
      skip_next_ = false;
      return;
    }
    const auto& r = records[i];
    const int64_t offset = r.position.offset.value();
    const auto expected = witness_->entry(PartitionId(partition_), offset + shift_);
    if (!expected) return;  // past what the ledger has read
    const auto id = event_id_of(r);
    if (expected->id == id) {
      if (expected->digest != digest)
        add(offset, id, "changed since the ledger read it (" + what_it_was(*expected) + ")");
      return;
    }
    const auto following = witness_->entry(PartitionId(partition_), offset + shift_ + 1);
    const auto next_id = i + 1 < records.size() ? event_id_of(records[i + 1]) : std::string();
    if (following && following->id == id && next_id == expected->id && !id.empty()) {
      add(offset, expected->id,
          "moved: it and the event after it (" + id + ") were swapped (" + what_it_was(*expected) +
              ")");
      skip_next_ = true;
    } else if (following && following->id == id && !id.empty()) {
      add(offset, expected->id,
          "removed: the ledger read " + what_it_was(*expected) + " here; the log no longer has it");
      ++shift_;
    } else if (!next_id.empty() && next_id == expected->id) {
      add(offset, id, "inserted: the ledger never read this event here");
      --shift_;
    } else {
      add(offset, id,
          "replaced: the ledger read event " + expected->id + " (" + what_it_was(*expected) +
              ") here");
    }
  }

  int32_t partition_;
  std::vector<events::AuditCheckpointed> checkpoints_;
  std::vector<int64_t> lowest_first_;  // of checkpoints k and after
  const LedgerReader* witness_;
  Report& report_;
  std::string chain_;
  size_t next_ = 0;                  // the next checkpoint to reach
  std::vector<std::string> window_;  // digests from window_start_, for the checkpoints ahead
  int64_t window_start_ = 0;
  int64_t shift_ = 0;  // ledger offset minus log offset, after removals and insertions
  bool skip_next_ = false;
  bool chain_broken_ = false;
};

}  // namespace

Report verify_log(eventlog::EventLog& log, const LedgerReader* witness,
                  const std::vector<std::string>& public_keys) {
  Report report;
  auto checkpoints = trusted_checkpoints(log, witness, public_keys, report);
  for (int32_t p = 0; p < log.partition_count(); ++p) {
    PartitionCheck check(p, std::move(checkpoints[p]), witness, report);
    const int64_t end = log.end_offset(PartitionId(p)).value();
    for (Offset from(0); from.value() < end;) {
      const auto records = log.read(PartitionId(p), from, kReadChunk, std::chrono::milliseconds(0));
      if (records.empty()) break;
      check.check(records);
      from = Offset(records.back().position.offset.value() + 1);
    }
    check.finish(end);
  }
  std::stable_sort(report.findings.begin(), report.findings.end(),
                   [](const auto& a, const auto& b) {
                     return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
                   });
  return report;
}

namespace {

// A member of an export line, or nullopt when it is missing or of another type.
std::optional<std::string> string_member(const rapidjson::Value& o, const char* name) {
  const auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsString()) return std::nullopt;
  return std::string(it->value.GetString(), it->value.GetStringLength());
}
std::optional<int64_t> int_member(const rapidjson::Value& o, const char* name) {
  const auto it = o.FindMember(name);
  if (it == o.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

std::optional<events::AuditCheckpointed> checkpoint_of(const rapidjson::Value& o) {
  events::AuditCheckpointed c;
  const auto partition = int_member(o, "partition");
  const auto first = int_member(o, "first_offset");
  const auto next = int_member(o, "next_offset");
  auto chain = string_member(o, "chain");
  auto root = string_member(o, "merkle_root");
  auto key = string_member(o, "key_id");
  auto signature = string_member(o, "signature");
  if (!partition || !first || !next || !chain || !root || !key || !signature) return std::nullopt;
  c.partition = static_cast<int32_t>(*partition);
  c.first_offset = *first;
  c.next_offset = *next;
  c.chain = std::move(*chain);
  c.merkle_root = std::move(*root);
  c.key_id = std::move(*key);
  c.signature = std::move(*signature);
  return c;
}

}  // namespace

Report verify_export(std::istream& in, const std::vector<std::string>& public_keys) {
  Report report;
  // Trusted checkpoints by (partition, first offset, next offset): their Merkle roots.
  std::map<std::tuple<int32_t, int64_t, int64_t>, std::string> roots;
  std::string line;
  int64_t line_number = 0;
  auto bad_line = [&](const std::string& why) {
    report.findings.push_back({0, -1, {}, "line " + std::to_string(line_number) + ": " + why});
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) {
      bad_line("not a JSON object");
      continue;
    }
    if (const auto it = d.FindMember("checkpoint"); it != d.MemberEnd() && it->value.IsObject()) {
      const auto c = checkpoint_of(it->value);
      if (!c) {
        bad_line("a checkpoint without all its fields");
      } else if (!signature_valid(*c, public_keys)) {
        bad_line(
            "a checkpoint no trusted key signed (forged, altered, or signed with a key not "
            "given)");
      } else {
        roots[{c->partition, c->first_offset, c->next_offset}] = c->merkle_root;
        ++report.checkpoints_verified;
      }
      continue;
    }
    const auto partition = int_member(d, "partition");
    const auto offset = int_member(d, "offset");
    const auto key = string_member(d, "key");
    const auto type = string_member(d, "type");
    const auto value = string_member(d, "value");
    if (!partition || !offset || !key || !type || !value) {
      bad_line("neither an event (partition, offset, key, type, value) nor a checkpoint");
      continue;
    }
    ++report.records;
    const auto first = int_member(d, "checkpoint_first_offset");
    const auto next = int_member(d, "checkpoint_next_offset");
    if (!first || !next) {
      ++report.unsigned_records;  // exported before a checkpoint covered it
      continue;
    }
    const eventlog::LogRecord record{
        {PartitionId(static_cast<int32_t>(*partition)), Offset(*offset)}, *key, *type, *value};
    Finding f{static_cast<int32_t>(*partition), *offset, event_id_of(record), {}};
    const auto root = roots.find({f.partition, *first, *next});
    std::vector<std::string> path;
    if (const auto it = d.FindMember("path"); it != d.MemberEnd() && it->value.IsArray())
      for (const auto& step : it->value.GetArray())
        if (step.IsString())
          if (auto bytes = hex_decode(std::string_view(step.GetString(), step.GetStringLength())))
            path.push_back(std::move(*bytes));
    if (root == roots.end()) {
      f.what = "its checkpoint is not in the export, or no trusted key signed it";
    } else if (*first < 0 || *offset < *first || *offset >= *next ||
               hex_encode(root_from_path(
                   record_digest(*key, *type, *value), static_cast<size_t>(*offset - *first),
                   static_cast<size_t>(*next - *first), path)) != root->second) {
      f.what = "changed: it does not match the checkpoint that covers it";
    } else {
      continue;
    }
    report.findings.push_back(std::move(f));
  }
  return report;
}

std::string describe(const Finding& f) {
  std::string out = "partition " + std::to_string(f.partition);
  if (f.offset >= 0) out += ", offset " + std::to_string(f.offset);
  if (!f.event_id.empty()) out += ", event " + f.event_id;
  return out + ": " + f.what;
}

}  // namespace cairn::audit
