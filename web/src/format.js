// How numbers, times and days read on the page. No DOM.

// "1 member", "2 members": `one` for exactly one, else `many` (default: `one` + "s").
export function plural(count, one, many = `${one}s`) {
  return `${Number(count).toLocaleString()} ${Number(count) === 1 ? one : many}`;
}

// "just now", "3 min ago", "2 h ago", else the date: how long ago `ms` (epoch ms) was.
export function ago(ms) {
  if (!ms) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(ms).toLocaleDateString();
}

// The time of day of node time `us` (µs since the Unix epoch), in the browser's locale.
export function clock(us) {
  return new Date(Number(us) / 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// A key naming the local calendar day of node time `us`: two messages are on the same day
// (for a separator between them) when their keys are equal.
export function dayKey(us) {
  const date = new Date(Number(us) / 1000);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

// What a date separator says for the local day of `us`: "Today", "Yesterday", else the
// date in the browser's locale ("Monday, 3 March 2025"; the year only when not this year's).
export function dayLabel(us, now = new Date()) {
  const date = new Date(Number(us) / 1000);
  const yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
  const same = (a, b) => a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  if (same(date, now)) return 'Today';
  if (same(date, yesterday)) return 'Yesterday';
  const options = { weekday: 'long', day: 'numeric', month: 'long' };
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric';
  return date.toLocaleDateString([], options);
}

// When a row of a list happened, short: the time for today, else the date ("3 Mar").
export function listTime(us, now = new Date()) {
  if (dayKey(us) === dayKey(Number(now) * 1000)) return clock(us);
  return new Date(Number(us) / 1000).toLocaleDateString([], { day: 'numeric', month: 'short' });
}

// The date and time of node time `us` in full, in the browser's locale (a tooltip).
export function fullTime(us) {
  return new Date(Number(us) / 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}
