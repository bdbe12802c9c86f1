// The two DOM helpers every part of the page uses. User text only ever goes in as text
// (children strings become text nodes), never as HTML.

export const $ = (id) => document.getElementById(id);

// Builds an element: h('li', {class: 'x', onclick}, 'text', child).
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else element.setAttribute(key, value === true ? '' : value);
  }
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}
