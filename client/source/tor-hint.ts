/**
 * A gentle hint, shown only where JavaScript runs: when the page isn't on an
 * .onion address or the browser doesn't look like Tor Browser, suggest Tor
 * Browser at its Safest level (where this site still works). It can't be
 * certain (Tor Browser hides what it is on purpose), so it recommends, never blocks.
 */
export function showTorHint(doc: Document = document, loc: Location = location, nav: Navigator = navigator): boolean {
  const hint = doc.getElementById('tor-hint');
  if (!hint) return false;
  const onOnion = loc.hostname.replace(/\.$/, '').endsWith('.onion');
  // Tor Browser is Firefox ESR and reports itself as Firefox.
  const looksLikeTorBrowser = /\bFirefox\//.test(nav.userAgent);
  const show = !(onOnion && looksLikeTorBrowser);
  hint.hidden = !show;
  return show;
}
