/**
 * The inbox stylesheet, served as `/<secret>/inbox.css` (kept in code so the
 * bundled CLI carries it; the CSP allows only this one same-origin stylesheet).
 * It holds the print layout: printing a conversation leaves out the controls.
 *
 * @module
 * @example
 * c.body(INBOX_CSS, 200, { "content-type": "text/css; charset=utf-8" });
 */
export const INBOX_CSS = `
/* The tipline inbox: plain, readable, printable. No web fonts, nothing from elsewhere. */
:root { color-scheme: light; font-family: system-ui, "Noto Sans CJK SC", "Noto Sans", sans-serif; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; line-height: 1.5; color: #1a1a1a; background: #fff; }
.top { border-bottom: 1px solid #ccc; margin-bottom: 1rem; }
.home { font-weight: bold; text-decoration: none; color: inherit; font-size: 1.2rem; }
.languages { float: right; }
.mode { font-size: 0.9rem; padding: 0.3rem 0.5rem; border-radius: 4px; }
.mode.offline { background: #fff4d6; }
.mode.online { background: #e3f3e6; }
table.conversations { width: 100%; border-collapse: collapse; }
.conversations th, .conversations td { text-align: start; padding: 0.4rem; border-bottom: 1px solid #ddd; }
tr.unread td:first-child a { font-weight: bold; }
.mark { white-space: nowrap; }
.unread-mark { color: #0050b3; }
.star-mark { color: #b37400; }
fieldset { border: 1px solid #ccc; }
fieldset label { margin-inline-end: 1rem; }
.messages { list-style: none; padding: 0; }
.message { border: 1px solid #ccc; border-radius: 6px; padding: 0.5rem 1rem; margin-bottom: 1rem; }
.message.reply { background: #f3f6fb; margin-inline-start: 2rem; }
.byline { font-weight: bold; margin: 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; font-family: inherit; unicode-bidi: plaintext; max-height: 40rem; overflow: auto; }
bdi { unicode-bidi: isolate; }
.warning { background: #fde8e8; border-inline-start: 4px solid #b30000; padding: 0.3rem 0.6rem; }
.note { color: #444; font-size: 0.9rem; }
.notice { background: #e3f3e6; padding: 0.5rem; }
.notice.error { background: #fde8e8; }
.actions form.inline { display: inline; }
.actions > * { margin-inline-end: 0.8rem; }
.attachment { margin-bottom: 0.5rem; }
.attachment code { font-size: 0.8rem; overflow-wrap: anywhere; }
textarea { width: 100%; box-sizing: border-box; font: inherit; }
button.danger { background: #b30000; color: #fff; border: 0; padding: 0.3rem 0.8rem; }
@media print {
  .top, .actions, .reply, .back, .print-hint, .filter, .save, .languages { display: none; }
  body { max-width: none; }
  .text { max-height: none; overflow: visible; }
  .message { break-inside: avoid; }
}
`;
