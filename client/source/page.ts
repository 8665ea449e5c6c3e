/**
 * The one script every source page loads. Each page works without it; here it
 * adds the Tor Browser hint and, on /submit, encryption in the browser.
 */
import { showTorHint } from './tor-hint.ts';
import { enhanceTipForm } from './submit.ts';
import { enhanceLogin } from './inbox.ts';

showTorHint();
const form = document.getElementById('tip-form');
if (form instanceof HTMLFormElement) enhanceTipForm(form);
const login = document.getElementById('login-form');
if (login instanceof HTMLFormElement) enhanceLogin(login);
