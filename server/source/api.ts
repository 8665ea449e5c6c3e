/**
 * The source API: the signed manifest, and encrypted tips.
 */
import { Hono } from 'hono';
import * as z from 'zod';
import { base64 } from '../../crypto/bytes.ts';
import type { Limits } from '../config.ts';
import type { CurrentRecipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { parseJson, readBodyWithLimit } from '../http/read-body.ts';
import type { TipIntake } from '../tip-intake.ts';

const TipBody = z.strictObject({ ciphertext: z.string().min(1) });

export function sourceApi(deps: { recipients: CurrentRecipients; intake: TipIntake; limits: Limits }): Hono {
  const api = new Hono();

  api.get('/manifest', async (c) => {
    const { signed } = await deps.recipients.get();
    return c.json(signed);
  });

  api.post('/tips', async (c) => {
    requireJson(c.req.header('content-type'));
    // base64 grows the body by 4/3; allow for that plus the JSON around it.
    const body = parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((deps.limits.maxTipBytes * 4) / 3) + 1024));
    const parsed = TipBody.safeParse(body);
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"ciphertext": "<base64 OpenPGP message>"}.');
    let ciphertext: Uint8Array;
    try {
      ciphertext = base64.decode(parsed.data.ciphertext);
    } catch {
      throw new ApiError(400, 'bad-request', 'ciphertext is not valid base64.');
    }
    if (ciphertext.length > deps.limits.maxTipBytes) {
      throw new ApiError(413, 'too-large', 'The tip is larger than the limit.');
    }
    const receipt = await deps.intake.acceptEncrypted(ciphertext);
    // Same shape and size for every tip: the receipt is a fixed-length random id.
    return c.json({ status: 'received', receipt }, 201);
  });

  return api;
}

export function requireJson(contentType: string | undefined): void {
  if (!contentType || !/^application\/json\b/i.test(contentType)) {
    throw new ApiError(415, 'unsupported-media-type', 'Send the body as application/json.');
  }
}
