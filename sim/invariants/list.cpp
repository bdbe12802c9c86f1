// Which invariants the checker runs, and in what order: the one list (docs/invariants.md
// numbers them). A new invariant is a file in this folder and a line here.
//
// Each pass walks the history once, handing every record to its invariants in the order
// listed, so the report reads in history order within a pass; the passes report one after
// the other. Invariants that read the same records side by side share a pass.
#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {

std::vector<Pass> all(const Run& run) {
  std::vector<Pass> passes(4);
  // What the stores hold: acked messages (1), each client_msg_id once (2).
  passes[0].push_back(acked_durable(run));
  passes[0].push_back(stored_once(run));
  // What each device received: once, gap-free and in order (2), from the store (1), as a
  // member (3).
  passes[1].push_back(delivery_order(run));
  passes[1].push_back(delivered_durable(run));
  passes[1].push_back(members_only(run));
  // What each node did about presence (4) and pushes (5), replayed record by record.
  passes[2].push_back(presence(run));
  passes[2].push_back(push(run));
  // What each node told connections about typing (9) and receipts (10).
  passes[2].push_back(typing(run));
  passes[2].push_back(receipts(run));
  // What the stores hold of edits and deletes, and what devices saw after a delete (11).
  passes[2].push_back(edits(run));
  // What queryUnread told the apps of message requests (12; their pushes are 5's).
  passes[2].push_back(requests(run));
  // A clustered world's log and replicas: fencing (7), replicas agree (8).
  passes[3].push_back(fencing(run));
  passes[3].push_back(replicas_agree(run));
  return passes;
}

}  // namespace parley::sim::invariants
