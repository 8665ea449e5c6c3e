/**
 * A conversation as one plain-text file: every message in order, who wrote it
 * and on which day, with its form fields and attachment list. Plain text
 * cannot run anything, so a hostile tip stays text wherever the file is
 * opened. Bidirectional-override characters are shown as `[U+202E]` so a
 * message cannot make later lines read backwards.
 *
 * @module
 * @example
 * const text = transcriptOf(conversation, t); // 'Conversation quiet-heron-3fa2\n…'
 */
import type { Conversation } from './conversations.ts';
import { showControls, type InboxTranslate } from './inbox-i18n.ts';

export function transcriptOf(c: Conversation, t: InboxTranslate): string {
  const lines = [t('transcript.heading', { name: c.pseudonym }), t('transcript.note'), ''];
  for (const m of c.messages) {
    lines.push(`--- ${String(m.seq).padStart(3, '0')} · ${authorLabel(m, t)} · ${m.day ?? t('day.unknown')}${m.encryptedBy === 'server' ? ` · ${t('message.serverEncrypted.short')}` : ''}`);
    for (const [k, v] of Object.entries(m.fields)) lines.push(`${showControls(k)}: ${showControls(v)}`);
    lines.push(showControls(m.text));
    for (const a of m.attachments) lines.push(`[${t('attachment.label')}] ${showControls(a.name)} (${a.size} B, SHA-256 ${a.sha256})`);
    lines.push('');
  }
  return lines.join('\n');
}

/** "Source", or the journalist who wrote a reply ("a journalist" when the copy doesn't say). */
export function authorLabel(m: Conversation['messages'][number], t: InboxTranslate): string {
  if (m.kind !== 'reply') return t('author.source');
  return m.author ? t('author.journalist', { name: showControls(m.author.name) }) : t('author.someJournalist');
}
