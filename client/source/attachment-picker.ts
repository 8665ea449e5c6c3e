/**
 * "Attach files" on the tip form and on the conversation's reply form, where
 * JavaScript runs (without it the picker stays hidden and the page says files
 * need JavaScript).
 *
 * On every choice of files it first checks the limits the server gave the
 * page (how many files, how large each, how large together) and refuses, in
 * the source's language, before reading a byte. Then each file is prepared
 * (prepare-attachment.ts, loaded on first use): images are cleaned and the row
 * says what was removed; other files get a plain warning that their hidden
 * information can't be removed. While the tip is sent, each row shows a
 * progress bar and a Pause/Resume button.
 *
 * @example
 * const picker = enhanceAttachments(document.getElementById('attachments')!, 'en');
 * const files = await picker.ready(); // AttachmentToSend[] for sendTip or sendFollowup
 */
import { paddedFileSize } from '../../crypto/file-padding.ts';
import { formatFileSize } from '../../i18n/file-size.ts';
import { PauseGate } from './pause-gate.ts';
import type { PreparedAttachment } from './prepare-attachment.ts';
import type { AttachmentToSend } from './send-attachments.ts';
import type { UploadHooks, UploadState } from './upload-attachment.ts';

export type AttachmentPicker = {
  /** The chosen files, prepared (waits while they are). Empty when none are chosen or a choice was refused. */
  ready: () => Promise<AttachmentToSend[]>;
  /** Before a send: every row shows its progress bar, waiting its turn. */
  startSending: () => void;
  setBusy: (busy: boolean) => void;
  /** After a send: no files chosen, ready for the next message. */
  clear: () => void;
  maxUploadBytes: number;
  /** The picker's strings (`tFiles`, `tFailed`, …) for the sending code. */
  strings: Record<string, string | undefined>;
};

/**
 * Room counted per file against the tip's total, which the server counts in
 * ciphertext: OpenPGP adds about 150 bytes plus one key packet per journalist.
 */
const FRAMING_PER_FILE = 64 * 1024;

/** `status` shows "Checking the files…" while they are prepared. */
export function enhanceAttachments(container: HTMLElement, lang: string, status: HTMLElement | null = document.getElementById('status')): AttachmentPicker {
  const d = container.dataset as Record<string, string>;
  const limits = { files: Number(d.maxFiles), fileBytes: Number(d.maxFileBytes), tipBytes: Number(d.maxTipBytes) };
  const input = container.querySelector<HTMLInputElement>('input[type="file"]')!;
  const list = container.querySelector<HTMLElement>('#attachment-list')!;
  const errorBox = container.querySelector<HTMLElement>('#attach-error')!;
  const size = (bytes: number) => formatFileSize(bytes, lang);
  const named = (template: string | undefined, name: string) => (template ?? '{name}').replace('{name}', () => name);
  let chosen: Promise<AttachmentToSend[]> = Promise.resolve([]);
  let rows: Row[] = [];

  container.hidden = false;
  input.addEventListener('change', () => {
    chosen = choose([...(input.files ?? [])]);
    // Failures are reported when the source sends (ready() rejects); none goes unhandled meanwhile.
    chosen.catch(() => {});
  });

  async function choose(files: File[]): Promise<AttachmentToSend[]> {
    errorBox.hidden = true;
    list.replaceChildren();
    rows = [];
    const refusal = checkLimits(files);
    if (refusal) return refuse(refusal);
    rows = files.map((f) => addRow(f));
    if (files.length === 0) return [];
    if (status) status.textContent = d.tPreparing ?? '';
    try {
      const { prepareAttachment, AttachmentProblem } = await import('./prepare-attachment.ts');
      const out: AttachmentToSend[] = [];
      for (const [i, file] of files.entries()) {
        let prepared: PreparedAttachment;
        try {
          prepared = await prepareAttachment(file);
        } catch (e) {
          if (e instanceof AttachmentProblem) return refuse(named(e.code === 'damaged' ? d.tDamaged : d.tUnreadable, file.name));
          throw e;
        }
        rows[i]!.describe(prepared);
        out.push({ prepared, hooks: rows[i]!.hooks });
      }
      return out;
    } finally {
      if (status && status.textContent === d.tPreparing) status.textContent = '';
    }
  }

  function checkLimits(files: File[]): string | undefined {
    if (files.length > limits.files) return d.tTooMany;
    // Padded, as it will be sent (crypto/file-padding.ts): at most 12.5 % more above 1 MiB.
    const large = files.find((f) => paddedFileSize(f.size) > limits.fileBytes);
    if (large) return named(d.tFileTooLarge, large.name);
    const total = files.reduce((n, f) => n + paddedFileSize(f.size) + FRAMING_PER_FILE, 0);
    if (total > limits.tipBytes) return d.tTipTooLarge;
    return undefined;
  }

  /** Shows why, and forgets the choice: the tip goes without files unless the source picks again. */
  function refuse(reason: string | undefined): AttachmentToSend[] {
    input.value = '';
    list.replaceChildren();
    rows = [];
    errorBox.textContent = reason ?? '';
    errorBox.hidden = false;
    return [];
  }

  function addRow(file: File): Row {
    const li = el('li', 'attachment');
    const name = el('span', 'attachment-name', file.name);
    const note = el('p', 'attachment-note');
    const progressBox = el('div', 'attachment-progress');
    progressBox.hidden = true;
    const progress = document.createElement('progress');
    progress.max = 1;
    progress.value = 0;
    progress.setAttribute('aria-label', file.name);
    const button = el('button', 'secondary', d.tPause) as HTMLButtonElement;
    button.type = 'button';
    const state = el('span', 'attachment-state');
    progressBox.append(progress, ' ', button, ' ', state);
    li.append(name, ' ', el('span', 'attachment-size', `(${size(file.size)})`), note, progressBox);
    list.append(li);

    const gate = new PauseGate();
    let total = file.size;
    button.addEventListener('click', () => (gate.paused ? gate.resume() : gate.pause()));
    gate.subscribe((paused) => {
      button.textContent = (paused ? d.tResume : d.tPause) ?? '';
      if (paused) state.textContent = d.tPaused ?? '';
    });
    const words: Record<UploadState, string | undefined> = { sending: d.tSending, retrying: d.tRetrying, stalled: d.tStalled, sent: d.tSent };
    const hooks: UploadHooks = {
      gate,
      // Ciphertext is a little larger than the file: stay below 100 % until the server has checked it.
      onProgress: (acknowledged) => (progress.value = Math.min(0.99, acknowledged / Math.max(1, total))),
      onState: (s) => {
        progressBox.hidden = false;
        state.textContent = words[s] ?? '';
        if (s === 'sent') {
          progress.value = 1;
          button.hidden = true;
        }
      },
    };
    return {
      hooks,
      describe(prepared) {
        total = prepared.size;
        note.textContent = prepared.cleaned
          ? prepared.removed.length > 0
            ? (d.tCleaned ?? '').replace('{removed}', () => prepared.removed.join(', '))
            : (d.tClean ?? '')
          : (d.tCannotClean ?? '');
        note.classList.toggle('warning', !prepared.cleaned);
      },
      waiting() {
        if (progress.value >= 1) return;
        progressBox.hidden = false;
        state.textContent = d.tWaiting ?? '';
      },
    };
  }

  return {
    ready: () => chosen,
    startSending: () => rows.forEach((r) => r.waiting()),
    setBusy: (busy) => (input.disabled = busy),
    clear: () => {
      input.value = '';
      list.replaceChildren();
      rows = [];
      chosen = Promise.resolve([]);
    },
    maxUploadBytes: Number(d.maxUploadBytes),
    strings: d,
  };
}

type Row = { hooks: UploadHooks; describe: (prepared: PreparedAttachment) => void; waiting: () => void };

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
