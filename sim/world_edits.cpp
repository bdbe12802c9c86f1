// Simulated people editing and deleting their own messages (edit_percent, delete_percent;
// engine rule 20), and the planted bugs about them.
#include "sim/world_impl.hpp"

namespace parley::sim::detail {

// Drawn from the PRNG only with edit_percent or delete_percent set: other scenarios' runs
// stay as they were.
void World::maybe_revise_later(std::size_t d, ChannelId channel, Seq seq) {
  if (scenario_.edit_percent > 0 && rng_.below(100) < scenario_.edit_percent) {
    const TimeUs after = rng_.between(1'000'000, 20'000'000);
    at(now_ + after, [this, d, channel, seq] { revise(d, channel, seq, false); });
  }
  if (scenario_.delete_percent > 0 && rng_.below(100) < scenario_.delete_percent) {
    const TimeUs after = rng_.between(2'000'000, 60'000'000);
    at(now_ + after, [this, d, channel, seq] { revise(d, channel, seq, true); });
  }
}

// The app edits (a new text) or deletes message `seq`, if the device is still online. A
// refusal (the sender left the group meanwhile, or a block) counts in the errors.
void World::revise(std::size_t d, ChannelId channel, Seq seq, bool remove) {
  const Device& device = devices_[d];
  if (device.state != DeviceState::online || now_ >= scenario_.duration) return;
  Record r = device_record(d, RecordKind::revised);
  r.channel = channel;
  r.seq = seq;
  r.flag = remove;
  record(std::move(r));
  if (remove) {
    ++metrics_.deletes_sent;
    request(d, "delete", client::DeleteMessage{0, channel, seq});
  } else {
    ++metrics_.edits_sent;
    request(d, "edit", client::EditMessage{0, channel, seq, random_text()});
  }
}

}  // namespace parley::sim::detail
