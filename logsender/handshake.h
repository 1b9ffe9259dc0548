#pragma once
// The logsender's answer to a logreceiver's Hello: where its stream starts, or why it
// is refused (docs/protocol.md, "Handshake").
//
// Checks, in order: protocol version; the Hello's fields; then the start position
// against the primary's history on disk and its durable end:
//  - kFromStart: tranlog 1 must still be on the primary (else kTranlogGone).
//  - kAfterTid t (chain c): the stream starts at offset 0 of the file holding TID t+1,
//    so that archive files always start with their header; record t must have chain c.
//  - kResume (f, o): o > 0 must be a record boundary of file f whose preceding record
//    has the receiver's TID and chain; o == 0 must match file f's header (first TID,
//    start chain), or, when f does not exist yet, file f-1 must end with a log switch
//    with that TID and chain (the receiver then waits for f).
// A position ahead of the primary's durable end, or with another TID or chain, is a
// fork in time; a file that is needed but gone is kTranlogGone. The receiver limit is
// checked by the caller, which knows its sessions.
//
// REQUIRES: on the loop thread (it reads files through History).

#include <optional>
#include <string>

#include "tranlog/types.h"
#include "logsender/history.h"
#include "wire/protocol.h"

namespace tranship::logsender {

struct HandshakeDecision {
  bool accepted = false;
  wire::Refuse refuse;            // !accepted: the code and the words both logs show
  Boundary start;                 // accepted: where the first Data frame starts
  std::optional<Boundary> acked;  // kResume: the receiver's durable position
};

HandshakeDecision CheckHello(const wire::Hello& hello, History& history, const DurableEnd& end,
                             const std::string& stone_name);

// The refusal for a receiver beyond the limit, naming those that are served.
wire::Refuse TooManyReceivers(size_t limit, const std::vector<std::string>& served);

}  // namespace tranship::logsender
