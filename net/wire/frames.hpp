// Engine types <-> the Cap'n Proto structs of parley.capnp, for codec.cpp (which adds the
// binary encoding around them). Internal to parley_codec: it includes the
// generated schema header, which nothing outside net/wire/ sees.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/overloaded.hpp"
#include "net/wire/bad_frame.hpp"
#include "net/wire/codec.hpp"
#include "parley.capnp.h"

namespace parley::net {

std::string text_of(capnp::Text::Reader text);
// std::string is NUL-terminated and may hold NUL bytes: pass its size explicitly.
capnp::Text::Reader wire_text(const std::string& text);
// Throws std::length_error past what a Cap'n Proto list holds.
unsigned list_size(std::size_t size);

using engine::Overloaded;

// ---- Enums and shared structs (frames.cpp); from_wire throws BadFrame for unknown values ----
wire::MessageKind to_wire(engine::MessageKind kind);
engine::MessageKind from_wire(wire::MessageKind kind);
wire::ContactAction to_wire(engine::client::ContactAction action);
engine::client::ContactAction from_wire(wire::ContactAction action);
wire::ContactState to_wire(engine::ContactState state);
engine::ContactState from_wire(wire::ContactState state);
wire::ChannelKind to_wire(engine::ChannelKind kind);
engine::ChannelKind from_wire(wire::ChannelKind kind);
wire::RequestAnswer to_wire(engine::client::RequestAnswer answer);
engine::client::RequestAnswer from_wire(wire::RequestAnswer answer);

void set_ids(capnp::List<std::uint64_t>::Builder out, const std::vector<std::uint64_t>& ids);
std::vector<std::uint64_t> ids_of(capnp::List<std::uint64_t>::Reader list);
void fill_channel_summary(wire::ChannelSummary::Builder out,
                          const engine::server::ChannelSummary& summary);
engine::server::ChannelSummary read_channel_summary(wire::ChannelSummary::Reader in);
void fill_message(wire::Message::Builder out, const engine::Message& message);
engine::Message read_message(wire::Message::Reader in);
void fill_presence(wire::PresenceEntry::Builder out, const engine::server::PresenceEntry& entry);
engine::server::PresenceEntry read_presence(wire::PresenceEntry::Reader in);

// ---- Client frames (client_frames.cpp) ------------------------------------------------------
void fill_client_frame(wire::ClientFrame::Builder out, const ClientFrame& frame);
// `request` is set as soon as the frame's request id is read, before anything that may fail.
// Throws BadFrame (or what Cap'n Proto throws) for a frame the engine must not see.
ClientFrame read_client_frame(wire::ClientFrame::Reader in, engine::RequestId& request);

// ---- Server events (server_frames.cpp) ------------------------------------------------------
void fill_server_frame(wire::ServerFrame::Builder out, const engine::server::Event& event);
engine::server::Event read_server_frame(wire::ServerFrame::Reader in, engine::RequestId& request);

}  // namespace parley::net
