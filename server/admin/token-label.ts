/**
 * A token's label (`admin token issue --label`): which laptop or device the
 * token is for, so the right one can be revoked when a laptop is lost. It is
 * printed back to admins in a terminal, so it is checked at the door: 1 to 64
 * characters once trimmed, and no control, format (bidi overrides, zero-width)
 * or line/paragraph separator characters, which could rewrite or hide what
 * `admin token list` shows. It is never logged, nor written to the audit log.
 *
 * @module
 * @example
 * checkTokenLabel("  Ana's laptop "); // "Ana's laptop"
 * checkTokenLabel('a\u202Eb');       // throws AdminError
 */
import { AdminError } from './newsroom-access.ts';

export const MAX_TOKEN_LABEL_LENGTH = 64;

const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** The label as stored, or undefined when none was given; throws AdminError for one that can't be shown safely. */
export function checkTokenLabel(label: string | undefined): string | undefined {
  if (label === undefined) return undefined;
  if (UNPRINTABLE.test(label)) throw new AdminError('--label may not contain control characters, line breaks or invisible formatting characters');
  const clean = label.trim();
  const length = [...clean].length;
  if (length === 0 || length > MAX_TOKEN_LABEL_LENGTH) throw new AdminError(`--label must be 1 to ${MAX_TOKEN_LABEL_LENGTH} characters`);
  return clean;
}
