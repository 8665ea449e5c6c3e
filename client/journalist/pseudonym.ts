/**
 * Conversation pseudonyms: a name a journalist can say out loud ("the
 * quiet-heron-3fa2 source") instead of a 64-digit thread id, and that never
 * hints at who the source is. Derived from the thread id alone, so every
 * journalist's machine names a conversation the same way without talking to
 * the others.
 *
 * SHA-256 of the thread id (behind a context string) picks one of 64 adjectives
 * and one of 64 nouns; the first four hex digits of the thread id are appended,
 * because 4,096 word pairs alone would collide once a newsroom has a few dozen
 * conversations.
 *
 * @module
 * @example
 * import { pseudonymFor } from './pseudonym.ts';
 * pseudonymFor('3fa2…'); // 'quiet-heron-3fa2'
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../../crypto/bytes.ts';

const CONTEXT = 'tipline pseudonym v1\n';
const THREAD_ID_RE = /^[0-9a-f]{64}$/;

// 64 of each, so one byte masked to 6 bits picks a word with no bias.
// Plain, neutral words: nothing about people, places, politics or health.
export const ADJECTIVES: readonly string[] = [
  'amber', 'azure', 'brave', 'breezy', 'bright', 'brisk', 'calm', 'clever',
  'cosy', 'crisp', 'dusty', 'eager', 'early', 'fair', 'gentle', 'golden',
  'grand', 'hardy', 'hidden', 'humble', 'icy', 'jolly', 'keen', 'kind',
  'late', 'lively', 'lucky', 'mellow', 'misty', 'modest', 'noble', 'odd',
  'olive', 'pale', 'patient', 'plain', 'polite', 'proud', 'quick', 'quiet',
  'rapid', 'rosy', 'rustic', 'sandy', 'silent', 'silver', 'simple', 'sleepy',
  'smooth', 'snowy', 'solid', 'steady', 'stormy', 'sunny', 'swift', 'tidy',
  'tiny', 'velvet', 'vivid', 'warm', 'wild', 'windy', 'wise', 'witty',
];

export const NOUNS: readonly string[] = [
  'acorn', 'anchor', 'badger', 'basil', 'beacon', 'birch', 'bison', 'canyon',
  'cedar', 'comet', 'coral', 'crane', 'delta', 'dune', 'ember', 'falcon',
  'fern', 'fjord', 'garnet', 'glacier', 'harbor', 'heron', 'hollow', 'island',
  'jasper', 'juniper', 'kestrel', 'lagoon', 'lantern', 'larch', 'lotus', 'maple',
  'marble', 'meadow', 'nectar', 'oasis', 'orchid', 'otter', 'pebble', 'pepper',
  'pine', 'planet', 'prairie', 'quartz', 'raven', 'reef', 'river', 'robin',
  'saddle', 'salmon', 'sparrow', 'spruce', 'summit', 'thistle', 'tiger', 'timber',
  'tulip', 'tundra', 'valley', 'walnut', 'willow', 'wren', 'yarrow', 'zephyr',
];

/** True when `text` is a thread id as the server hands it out: 64 lowercase hex digits. */
export function isThreadId(text: unknown): text is string {
  return typeof text === 'string' && THREAD_ID_RE.test(text);
}

/** The two words for a thread id, `adjective-noun`, without the hex suffix. */
export function pseudonymWords(threadId: string): string {
  if (!isThreadId(threadId)) throw new RangeError('a thread id is 64 lowercase hex digits');
  const digest = sha256(utf8.encode(CONTEXT + threadId));
  return `${ADJECTIVES[digest[0]! & 63]}-${NOUNS[digest[1]! & 63]}`;
}

/** The pseudonym of a conversation: `adjective-noun-xxxx`, where xxxx opens the thread id. */
export function pseudonymFor(threadId: string): string {
  return `${pseudonymWords(threadId)}-${threadId.slice(0, 4)}`;
}
