/**
 * The codename login and conversation, improved where JavaScript runs: the
 * codename is read and its keys derived in the browser, replies are opened in
 * the page, and follow-ups are encrypted before they leave, with any files
 * attached (the tip form's picker and upload, attachment-picker.ts). Without
 * JavaScript the same forms post to the server, which does this in memory for
 * one request; files can't go that way, and the page says so.
 */
import { enhanceAttachments } from './attachment-picker.ts';

type Conversation = typeof import('./conversation.ts');

export function enhanceLogin(form: HTMLFormElement): void {
  const t = form.dataset as Record<string, string>;
  const input = form.querySelector('input[name="codename"]') as HTMLInputElement;
  const button = form.querySelector('button[type="submit"]') as HTMLButtonElement;
  const errorBox = document.getElementById('login-error')!;
  const status = document.getElementById('login-status')!;
  const inbox = document.getElementById('js-inbox')!;
  const lang = document.querySelector<HTMLMetaElement>('meta[name="tipline-lang"]')?.content ?? 'en';
  const newsroomKey = document.querySelector<HTMLMetaElement>('meta[name="tipline-newsroom-key"]')!.content;
  let chunk: Promise<Conversation> | undefined;
  const load = () => (chunk ??= import('./conversation.ts'));
  form.addEventListener('focusin', () => void load().catch(() => {}), { once: true });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    button.disabled = true;
    errorBox.hidden = true;
    status.textContent = t.tChecking ?? '';
    try {
      const conversation = await load().catch(() => {
        throw new Error(t.tErrorNetwork);
      });
      const replies = await conversation.logInAndRead(input.value, lang, t);
      input.value = '';
      form.hidden = true;
      showInbox(conversation, replies);
    } catch (e) {
      errorBox.textContent = e instanceof Error ? e.message : String(e);
      errorBox.hidden = false;
    } finally {
      button.disabled = false;
      status.textContent = '';
    }
  });

  function showInbox(conversation: Conversation, replies: Awaited<ReturnType<Conversation['logInAndRead']>>): void {
    const list = inbox.querySelector('#replies')!;
    const empty = inbox.querySelector<HTMLElement>('#no-replies')!;
    list.replaceChildren();
    for (const r of replies) {
      const li = document.createElement('li');
      li.dataset.replyId = r.id;
      const day = document.createElement('p');
      day.className = 'reply-day';
      day.textContent = (t.tReplyOn ?? '{day}').replace('{day}', r.day);
      const text = document.createElement('div');
      text.className = 'reply-text';
      // textContent, never innerHTML: a reply is text, whatever it contains.
      text.textContent = 'text' in r ? r.text : r.error;
      const del = document.createElement('button');
      del.type = 'button';
      del.className = 'secondary';
      del.textContent = t.tDelete ?? 'Delete';
      del.addEventListener('click', async () => {
        del.disabled = true;
        try {
          await conversation.deleteReply(r.id, t);
          li.remove();
          empty.hidden = list.children.length > 0;
        } catch (e) {
          del.disabled = false;
          alertIn(li, e instanceof Error ? e.message : String(e));
        }
      });
      li.append(day, text, del);
      list.append(li);
    }
    empty.hidden = replies.length > 0;
    inbox.hidden = false;
    inbox.querySelector<HTMLElement>('#inbox-heading')?.focus();
    enhanceReplyForm(conversation);
  }

  function enhanceReplyForm(conversation: Conversation): void {
    const replyForm = inbox.querySelector('#reply-form') as HTMLFormElement;
    const textarea = replyForm.querySelector('textarea') as HTMLTextAreaElement;
    const replyButton = replyForm.querySelector('button[type="submit"]') as HTMLButtonElement;
    const replyError = replyForm.querySelector<HTMLElement>('#reply-error')!;
    const replyStatus = replyForm.querySelector<HTMLElement>('#reply-status')!;
    const attachmentBox = replyForm.querySelector<HTMLElement>('#attachments');
    const picker = attachmentBox ? enhanceAttachments(attachmentBox, lang, replyStatus) : undefined;
    let busy = false;
    replyForm.addEventListener('submit', async (event) => {
      // Never fall back to posting the plaintext form once the page has taken over.
      event.preventDefault();
      if (busy) return;
      if (textarea.value.trim() === '') {
        replyError.textContent = t.tErrorEmpty ?? '';
        replyError.hidden = false;
        return;
      }
      busy = true;
      replyButton.disabled = true;
      picker?.setBusy(true);
      replyError.hidden = true;
      try {
        // ready() fails only if the cleaning code could not be loaded (the connection dropped).
        const attachments = picker ? await picker.ready().catch(() => Promise.reject(new Error(t.tErrorNetwork))) : [];
        picker?.startSending();
        await conversation.sendFollowup({
          message: textarea.value,
          lang,
          newsroomKey,
          strings: { ...t, ...picker?.strings },
          onStatus: (s) => (replyStatus.textContent = s ?? ''),
          attachments,
          ...(picker ? { maxUploadBytes: picker.maxUploadBytes } : {}),
        });
        textarea.value = '';
        picker?.clear();
        replyStatus.textContent = t.tSent ?? '';
      } catch (e) {
        replyStatus.textContent = '';
        replyError.textContent = `${t.tNotSent ?? ''} ${e instanceof Error ? e.message : String(e)}`;
        replyError.hidden = false;
      } finally {
        busy = false;
        replyButton.disabled = false;
        picker?.setBusy(false);
      }
    });
  }
}

function alertIn(parent: HTMLElement, message: string): void {
  const p = document.createElement('p');
  p.className = 'error';
  p.setAttribute('role', 'alert');
  p.textContent = message;
  parent.append(p);
}
