/**
 * Firefox ESR set up as Tor Browser at one of its three security levels, for
 * the browser suites: Debian's `firefox-esr`, driven by puppeteer-core over
 * WebDriver BiDi (no geckodriver), headless, with a fresh profile each launch.
 *
 * Every pref below says where Tor Browser sets it. Checked on 2026-12-07
 * against the base-browser code that Tor Browser and Mullvad Browser share,
 * read in the mullvad/mullvad-browser repository (Tor Browser's own repository
 * lives on gitlab.torproject.org, out of reach here):
 * - the level prefs: toolkit/components/securitylevel/SecurityLevel.sys.mjs at
 *   commit 0449a07a5ec30371081e96c9d1946fe1b4e74e96, the `kSecuritySettings`
 *   table, and in the same file the NoScript capabilities per level
 *   (`default_caps`, `untrusted_caps`, `noscriptSettings`);
 * - the prefs of every level: browser/app/profile/001-base-profile.js at
 *   commit 002b5ce3bb29bc4f7910de86b325c6c93465d69a.
 * Network prefs (the Tor proxy, in Tor Browser's own 000-tor-browser.js) are
 * left out on purpose: the tests talk to a server on 127.0.0.1.
 *
 * NoScript is not installed here, so what it does per level is copied with
 * the nearest Firefox pref, and each such pref says so ("NoScript:").
 *
 * @example
 * const browser = await launchTorBrowserLike('safer');
 * const page = await browser.newPage();
 * await page.goto(url);
 * await browser.close();
 */
import { launch, type Browser } from 'puppeteer-core';

export const FIREFOX_PATH = '/usr/bin/firefox-esr';

export type SecurityLevel = 'standard' | 'safer' | 'safest';
export const SECURITY_LEVELS: readonly SecurityLevel[] = ['standard', 'safer', 'safest'];

/** Set at every level (001-base-profile.js), where it can touch our pages. */
const ALL_LEVELS: Record<string, string | number | boolean> = {
  // "Fingerprinting": letterboxed window, UTC, en-US, spoofed hardwareConcurrency.
  'privacy.resistFingerprinting': true,
  // "Disk activity: Disable Browsing History Storage": always private browsing, no disk cache.
  'browser.privatebrowsing.autostart': true,
  'browser.cache.disk.enable': false,
  'permissions.memory_only': true,
  // "Misc privacy: Disk": no saved passwords and no form history (the codename field).
  'signon.rememberSignons': false,
  'browser.formfill.enable': false,
  'signon.autofillForms': false,
  // No form data kept for session restore.
  'browser.sessionstore.privacy_level': 2,
  // "Disable ServiceWorkers by default."
  'dom.serviceWorkers.enabled': false,
  // "Disable SAB, no matter if the sites are cross-origin isolated."
  'dom.postMessage.sharedArrayBuffer.withCOOP_COEP': false,
  // tor-browser#42767: no OffscreenCanvas.
  'gfx.offscreencanvas.enabled': false,
  // "Always enforce first party isolation".
  'privacy.firstparty.isolate': true,
  // "Disable WebRTC interfaces".
  'media.peerconnection.enabled': false,
  // HTTPS-Only (tor-browser#19850). Firefox leaves loopback addresses alone, so the tests' http://127.0.0.1 still loads.
  'dom.security.https_only_mode': true,
  'dom.security.https_only_mode_pbm': true,
  // Kept out of the test's way; base-browser sets the same ("Make sure Unified Telemetry is really disabled").
  'browser.shell.checkDefaultBrowser': false,
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

/**
 * What each level adds. `kSecuritySettings` gives each pref's value by the
 * slider's index, `[, safest (1), safer (2), safer (3, old medium), standard (4)]`;
 * the comments quote that row. Standard's values are Firefox's defaults
 * (001-base-profile.js sets `svg.disabled` and `mathml.disabled` to false), so
 * only Safer and Safest are listed.
 */
const SAFER: Record<string, boolean> = {
  // "javascript.options.ion":                  [,  false, false, false, true ]
  'javascript.options.ion': false,
  // "javascript.options.baselinejit":          [,  false, false, false, true ]
  'javascript.options.baselinejit': false,
  // "javascript.options.native_regexp":        [,  false, false, false, true ]
  'javascript.options.native_regexp': false,
  // "mathml.disabled":                         [,  true,  true,  true,  false]
  'mathml.disabled': true,
  // "gfx.font_rendering.graphite.enabled":     [,  false, false, false, true ]
  'gfx.font_rendering.graphite.enabled': false,
  // "gfx.font_rendering.opentype_svg.enabled": [,  false, false, false, true ]
  'gfx.font_rendering.opentype_svg.enabled': false,
  // "javascript.options.asmjs":                [,  false, false, false, true ]
  'javascript.options.asmjs': false,
  // "javascript.options.wasm":                 [,  false, false, false, true ]
  'javascript.options.wasm': false,
  // NoScript at Safer puts "http:" sites in UNTRUSTED (no scripts), but in Tor Browser it counts .onion sites
  // as secure (its background code sets `Sites.onionSecure = isTorBrowser`), so an http:// onion gets
  // `default_caps`, scripts included: the same as our http://127.0.0.1 here, with no NoScript.
  // NoScript: Safer's `default_caps` leave out "webgl" (and "media", which no pref copies; our pages have none).
  'webgl.disabled': true,
};

const LEVEL_PREFS: Record<SecurityLevel, Record<string, boolean>> = {
  standard: {},
  safer: SAFER,
  safest: {
    ...SAFER,
    // "svg.disabled":                          [,  true,  false, false, false]
    'svg.disabled': true,
    // NoScript: Safest's caps (`min_caps`: frame, other, noscript) have no "script". Tor Browser leaves
    // javascript.enabled on and NoScript blocks every page's scripts; for our pages the effect is the same.
    'javascript.enabled': false,
    // NoScript: nor "font": no downloaded fonts.
    'gfx.downloadable_fonts.enabled': false,
  },
};

export function torBrowserPrefs(level: SecurityLevel): Record<string, string | number | boolean> {
  return { ...ALL_LEVELS, ...LEVEL_PREFS[level] };
}

/** `protocolTimeoutMs`: how long one call into the page may take (puppeteer's default is 180 s; the 2 GiB one-off takes longer). */
export function launchTorBrowserLike(level: SecurityLevel, o: { protocolTimeoutMs?: number } = {}): Promise<Browser> {
  return launch({
    ...(o.protocolTimeoutMs ? { protocolTimeout: o.protocolTimeoutMs } : {}),
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: torBrowserPrefs(level),
    args: ['--no-remote'],
  });
}
