// Links in message text (docs/web.md, "Links"). A message's text is the sender's, so
// nothing in it is trusted:
//
//  - only `http://` and `https://` URLs, and `www.` addresses (taken as https), become
//    links; any other scheme (`javascript:`, `data:`, `file:` ...) stays plain text, because
//    a link is made only where one of those three prefixes starts a word;
//  - the link is an <a> element built with DOM calls, its text a text node and its href the
//    URL as the browser's URL parser normalises it; never HTML;
//  - it opens in a new tab with rel="noopener noreferrer": the page opened gets no handle
//    on this one and no Referer naming the node;
//  - trailing punctuation (".", ",", "!", "?", ":", ";", quotes, an unmatched ")" or "]")
//    is the sentence's, not the URL's, and stays outside the link.

import { h } from './dom.js';

// A URL candidate: one of the prefixes at the start of the text or after a character that
// cannot be part of a word or a URL, then anything up to white space or < > " (which a
// URL never holds unescaped).
const CANDIDATE = /(^|[^\w.@/-])((?:https?:\/\/|www\.)[^\s<>"]+)/gi;
const TRAILING = /[.,:;!?'*_~]$/;
const PAIRS = { ')': '(', ']': '[' };

// The URL without the sentence's punctuation after it.
function trim(url) {
  for (;;) {
    const last = url.at(-1);
    if (TRAILING.test(url)) url = url.slice(0, -1);
    else if (PAIRS[last] && count(url, last) > count(url, PAIRS[last])) url = url.slice(0, -1);
    else return url;
  }
}

const count = (text, char) => text.split(char).length - 1;

// The href for `text` (found by CANDIDATE), or null when it is no usable web address.
export function hrefOf(text) {
  const full = /^www\./i.test(text) ? `https://${text}` : text;
  let url;
  try {
    url = new URL(full);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname || url.username || url.password) return null; // no user:pass@ disguises
  return url.href;
}

// `text` cut into parts: strings, and {url, href} for each link, in order.
export function linkParts(text) {
  const parts = [];
  let from = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index + match[1].length;
    const url = trim(match[2]);
    const href = hrefOf(url);
    if (!href || url.length < 5) continue;
    if (start > from) parts.push(text.slice(from, start));
    parts.push({ url, href });
    from = start + url.length;
  }
  if (from < text.length) parts.push(text.slice(from));
  return parts;
}

// The children of a message's text with its links as <a> elements; `plain` turns each
// piece between links into nodes (mentions.js marks @names there), by default as it is.
export function linkNodes(text, plain = (piece) => [piece]) {
  return linkParts(text).flatMap((part) =>
    typeof part === 'string'
      ? plain(part)
      : [
          h(
            'a',
            { href: part.href, target: '_blank', rel: 'noopener noreferrer', class: 'link-out', dataset: { testid: 'link' } },
            part.url,
          ),
        ],
  );
}
