/**
 * Firefox ESR set up as Tor Browser at one of its three security levels, for
 * the browser suites: Debian's `firefox-esr`, driven by puppeteer-core over
 * WebDriver BiDi (no geckodriver), headless, with a fresh profile each launch.
 *
 * Every pref below says where Tor Browser sets it. The level prefs are the
 * ones Tor Browser's security level code sets (tor-browser.git,
 * toolkit/components/securitylevel/SecurityLevel.sys.mjs, `kSecuritySettings`;
 * Mullvad Browser shares it); the rest are what every level has (Tor Browser's
 * browser/app/profile/000-tor-browser.js and its base-browser prefs).
 * Network prefs (the Tor proxy) are left out on purpose: the tests talk to a
 * server on 127.0.0.1.
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

/** Set at every level (000-tor-browser.js / base-browser prefs). */
const ALL_LEVELS: Record<string, string | number | boolean> = {
  // Fingerprinting resistance: letterboxed window, UTC, spoofed hardwareConcurrency (2), en-US.
  'privacy.resistFingerprinting': true,
  // Tor Browser is always in private browsing: no history, no form history, no disk cache.
  'browser.privatebrowsing.autostart': true,
  // No service workers (disabled in Tor Browser, for cross-origin tracking and disk state).
  'dom.serviceWorkers.enabled': false,
  // Kept out of the test's way (Tor Browser ships these off as well).
  'browser.shell.checkDefaultBrowser': false,
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
};

/**
 * What each level adds. SecurityLevel.sys.mjs, `kSecuritySettings`: each pref
 * with its value at [standard, safer, safest]; listed here only where it
 * differs from Firefox's default.
 */
const LEVEL_PREFS: Record<SecurityLevel, Record<string, boolean>> = {
  standard: {},
  safer: {
    // "javascript.options.ion": [, true, false, false]
    'javascript.options.ion': false,
    // "javascript.options.baselinejit": [, true, false, false]
    'javascript.options.baselinejit': false,
    // "javascript.options.native_regexp": [, true, false, false]
    'javascript.options.native_regexp': false,
    // "javascript.options.wasm": [, true, false, false]
    'javascript.options.wasm': false,
    // "javascript.options.asmjs": [, true, false, false]
    'javascript.options.asmjs': false,
    // "mathml.disabled": [, false, true, true]
    'mathml.disabled': true,
    // "gfx.font_rendering.opentype_svg.enabled": [, true, false, false]
    'gfx.font_rendering.opentype_svg.enabled': false,
  },
  safest: {
    'javascript.options.ion': false,
    'javascript.options.baselinejit': false,
    'javascript.options.native_regexp': false,
    'javascript.options.wasm': false,
    'javascript.options.asmjs': false,
    'mathml.disabled': true,
    'gfx.font_rendering.opentype_svg.enabled': false,
    // "javascript.enabled": [, true, true, false] (Tor Browser does it per site through NoScript; the effect on our pages is the same)
    'javascript.enabled': false,
    // "svg.disabled": [, false, false, true]
    'svg.disabled': true,
  },
};

export function torBrowserPrefs(level: SecurityLevel): Record<string, string | number | boolean> {
  return { ...ALL_LEVELS, ...LEVEL_PREFS[level] };
}

export function launchTorBrowserLike(level: SecurityLevel): Promise<Browser> {
  return launch({
    browser: 'firefox',
    executablePath: FIREFOX_PATH,
    headless: true,
    protocol: 'webDriverBiDi',
    extraPrefsFirefox: torBrowserPrefs(level),
    args: ['--no-remote'],
  });
}
