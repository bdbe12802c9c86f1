// Receipts coalesced per batch (docs/protocol.md, "Receipts"; bench/CHANGES.md, "Receipts
// coalesced per commit").
//
// Each ack or markRead that moves a member's positions tells the senders it concerns with a
// `receipt` (engine/receipts.cpp). In a 100-member group, one message's acks made 99 of them
// for its sender: a third of the frames a group message cost. The batch is where they meet:
// Core::commit and Core::seal hand the batch's effects here before anyone may release them.
#pragma once

#include "engine/engine.hpp"

namespace parley::host {

// Rewrites `effects` (one batch's, in engine order) so that one connection gets at most one
// receipt frame per channel per batch (per span: see below):
//  - a single server::Receipt for a (connection, channel) stays as it is;
//  - two or more become one frame at the place of the last of them, holding the last entry
//    of each member they named (positions only move forward within a batch, and a later
//    entry is the newer truth: a read position that stopped being shared is 0 again): a
//    server::Receipt when they all named one member, else a server::Receipts with request 0,
//    in ascending user id. Every other frame to that connection keeps its order relative to
//    what it told, and no receipt arrives before the frames it follows.
//  - An answer to QueryReceipts (server::Receipts, request != 0) to the connection for the
//    channel ends a span: receipts before it merge among themselves and stay before it, so
//    none told earlier lands after the answer and overrides it.
// Events to connection 0 (HTTP callers) and every other effect are left alone. Deterministic:
// the output depends only on the input sequence (the simulator's trace and a cluster's
// replicas rely on that).
void coalesce_receipts(engine::Effects& effects);

}  // namespace parley::host
