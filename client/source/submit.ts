/**
 * The source's tip form, improved where JavaScript runs. The form already works
 * without this script (the server encrypts on arrival); with it, the browser
 * checks the signed manifest and encrypts before anything leaves the device.
 *
 * It fails closed: if any step fails, the source is told "Your tip was NOT
 * sent" and why, the message stays in the box, and nothing is posted in the
 * clear as a fallback.
 *
 * The crypto code (openpgp.js) is a separate chunk, loaded when the source
 * starts using the form, so the page is light until then.
 *
 * Attached files (attachment-picker.ts) are encrypted and uploaded one by one
 * before the tip, which then names them; a failure there fails the whole tip.
 */
import { enhanceAttachments } from './attachment-picker.ts';

type SendTip = typeof import('./send-tip.ts').sendTip;

export function enhanceTipForm(form: HTMLFormElement): void {
  const t = form.dataset as Record<string, string>;
  const textarea = form.querySelector('textarea[name="message"]') as HTMLTextAreaElement;
  const button = form.querySelector('button[type="submit"]') as HTMLButtonElement;
  const status = document.getElementById('status')!;
  const errorBox = document.getElementById('form-error')!;
  const sent = document.getElementById('tip-sent')!;
  const note = document.getElementById('encryption-note')!;
  const newsroomKey = document.querySelector<HTMLMetaElement>('meta[name="tipline-newsroom-key"]')!.content;
  const lang = document.querySelector<HTMLMetaElement>('meta[name="tipline-lang"]')?.content ?? 'en';
  const maxChars = Number(textarea.maxLength) || Infinity;
  const attachmentBox = document.getElementById('attachments');
  const picker = attachmentBox ? enhanceAttachments(attachmentBox, lang) : undefined;

  note.textContent = t.tEncryptionJs ?? note.textContent;
  let crypto: Promise<SendTip> | undefined;
  const loadCrypto = () => (crypto ??= import('./send-tip.ts').then((m) => m.sendTip));
  form.addEventListener('focusin', () => void loadCrypto().catch(() => {}), { once: true });

  let busy = false;
  form.addEventListener('submit', async (event) => {
    // Never let the browser fall back to posting the plaintext form.
    event.preventDefault();
    if (busy) return;
    const message = textarea.value;
    if (message.trim() === '') return showError(t.tErrorEmpty ?? '');
    if ([...message].length > maxChars) return showError(t.tErrorTooLong ?? '');
    busy = true;
    button.disabled = true;
    picker?.setBusy(true);
    errorBox.hidden = true;
    try {
      // ready() fails only if the cleaning code could not be loaded (the connection dropped).
      const attachments = picker ? await picker.ready().catch(() => Promise.reject(new Error(t.tErrorNetwork))) : [];
      picker?.startSending();
      setStatus(t.tChecking);
      const sendTip = await loadCrypto().catch(() => {
        throw new Error(t.tErrorNetwork);
      });
      const desk = (form.querySelector('select[name="desk"]') as HTMLSelectElement | null)?.value;
      const minVersion = Number(document.querySelector<HTMLMetaElement>('meta[name="tipline-manifest-version"]')?.content) || undefined;
      const { codename } = await sendTip({
        message,
        lang,
        newsroomKey,
        minVersion,
        desk,
        strings: { ...t, ...picker?.strings },
        onStatus: setStatus,
        attachments,
        ...(picker ? { maxUploadBytes: picker.maxUploadBytes } : {}),
      });
      document.getElementById('codename')!.textContent = codename;
      textarea.value = '';
      form.hidden = true;
      sent.hidden = false;
      sent.querySelector<HTMLElement>('h2')?.focus();
    } catch (e) {
      showError(e instanceof Error ? e.message : String(e));
    } finally {
      busy = false;
      button.disabled = false;
      picker?.setBusy(false);
      setStatus('');
    }
  });

  function setStatus(text: string | undefined): void {
    status.textContent = text ?? '';
  }

  function showError(reason: string): void {
    errorBox.textContent = '';
    const strong = document.createElement('strong');
    strong.textContent = t.tNotSent ?? 'Your tip was NOT sent.';
    errorBox.append(strong, ` ${reason}`);
    errorBox.hidden = false;
    errorBox.focus?.();
  }
}
