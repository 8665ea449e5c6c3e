/**
 * Reads Markdown the way GitHub renders it, closely enough to check a guide:
 * its headings (and the #anchors GitHub makes from them), its links, and the
 * `tipline …` and `npm …` commands it shows (in code blocks and code spans).
 * Headings and links inside code don't count, since GitHub doesn't render them.
 *
 * @example
 * const doc = readMarkdown('docs/admin.md', text);
 * doc.anchors.has('runbook');           // true for "## Runbook"
 * doc.links[0];                          // { target: 'deploy.md#1-tor', line: 12 }
 * commandProblems(doc, helpCommands(help), scripts); // [] when every command exists
 * @module
 */

import { posix } from 'node:path';

export type DocLink = { target: string; line: number };
export type DocCommand = { text: string; line: number };
export type MarkdownDoc = {
  path: string;
  anchors: Set<string>;
  links: DocLink[];
  /** Every code line and code span, where commands are shown. */
  code: DocCommand[];
};

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link shows its text
    .replace(/[`*]/g, '');
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}_ -]/gu, '')
    .replace(/ /g, '-');
}

export function readMarkdown(path: string, text: string): MarkdownDoc {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const links: DocLink[] = [];
  const code: DocCommand[] = [];
  let fence: string | undefined;
  let continues = false; // the last code line ended in a backslash
  // Prose is read a paragraph at a time, so a link whose text wraps is still one link.
  let paragraph: { text: string; line: number } | undefined;
  const endParagraph = () => {
    if (!paragraph) return;
    const spans = /(`+)([\s\S]*?[^`])\1(?!`)/g;
    const { text, line } = paragraph;
    const lineAt = (index: number) => line + (text.slice(0, index).match(/\n/g)?.length ?? 0);
    for (const m of text.matchAll(spans)) code.push({ text: m[2]!.trim(), line: lineAt(m.index!) });
    // Code spans blanked out in place (newlines kept), so a link in code is no link and lines still count.
    const prose = text.replace(spans, (span) => span.replace(/[^\n]/g, ' '));
    for (const m of prose.matchAll(/\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: m[1]!, line: lineAt(m.index!) });
    paragraph = undefined;
  };
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    const fenceMark = /^\s*(```+|~~~+)/.exec(line);
    if (fence) {
      if (fenceMark && fenceMark[1]!.startsWith(fence)) fence = undefined;
      // A shell line ending in a backslash goes on: the command is both lines.
      else if (continues) code.at(-1)!.text = `${code.at(-1)!.text.replace(/\\$/, '')} ${line}`;
      else code.push({ text: line, line: n });
      continues = fence !== undefined && line.endsWith('\\');
      return;
    }
    if (fenceMark) {
      endParagraph();
      fence = fenceMark[1];
      return;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      endParagraph();
      const base = githubSlug(heading[2]!);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
      paragraph = { text: heading[2]!, line: n };
      endParagraph();
      return;
    }
    if (line.trim() === '') return endParagraph();
    if (paragraph) paragraph.text += `\n${line}`;
    else paragraph = { text: line, line: n };
  });
  endParagraph();
  return { path, anchors, links, code };
}

/** A command `tipline --help` names, and every option its usage and explanation mention. */
export type HelpCommand = { path: string[]; options: Set<string> };

const OPTION = /(?:^|[\s[(|])(--[a-z][a-z-]*)/g;
const optionsIn = (text: string) => [...text.matchAll(OPTION)].map((m) => m[1]!);

/**
 * The commands `tipline --help` names: `tipline admin journalist add --data DIR …`
 * gives the path ['admin', 'journalist', 'add'] and its options. A usage line's
 * indented continuation and explanation count as its own, up to a blank line.
 */
export function helpCommands(help: string): HelpCommand[] {
  const commands: HelpCommand[] = [];
  let current: HelpCommand | undefined;
  for (const line of help.split('\n')) {
    const usage = /^ {0,4}tipline((?:\s+[a-z][a-z-]*)+)/.exec(line);
    if (usage) commands.push((current = { path: usage[1]!.trim().split(/\s+/), options: new Set() }));
    else if (line.trim() === '') current = undefined;
    if (current) for (const o of optionsIn(line)) current.options.add(o);
  }
  return commands;
}

/**
 * Where `tipline` is a name, not the command: the system user (`sudo -u tipline`,
 * `chown tipline`), the container (`docker exec tipline`), the role and database
 * (`createuser tipline`). The word before it says so; a shell function's
 * definition (`tipline() {`) is no match, since a command is followed by a space.
 */
const NOT_THE_COMMAND_AFTER = new Set(['-u', '-o', '-g', '--owner', '--name', 'exec', 'createuser', 'createdb', '--pwprompt']);

export type ShownCommand = { words: string[]; options: string[] };

/**
 * Every `tipline …` in a line of code: its subcommand words, and the options
 * given to it (up to a pipe, `;`, `&&`, a closing `)` or a `#` comment).
 */
export function tiplineCommands(line: string): ShownCommand[] {
  const found: ShownCommand[] = [];
  for (const m of line.matchAll(/(^|[\s;|&(`$])tipline(?=\s|$)((?:\s+[a-z][a-z-]*)*)/g)) {
    const before = line.slice(0, m.index! + m[1]!.length).trimEnd().split(/\s+/).pop() ?? '';
    if (NOT_THE_COMMAND_AFTER.has(before)) continue;
    const words = m[2]!.trim().split(/\s+/).filter(Boolean);
    // A `$(…)` argument is one word, not the end of the command.
    const rest = line.slice(m.index! + m[0].length).replace(/\$\([^)]*\)/g, 'X').split(/[|;&)#`]/)[0]!;
    if (words.length > 0) found.push({ words, options: optionsIn(rest) });
  }
  return found;
}

/** The scripts of every `npm run NAME`, `npm test` and `npm start` in a line of code. */
export function npmScripts(line: string): string[] {
  const names: string[] = [];
  for (const m of line.matchAll(/\bnpm\s+run\s+([\w:.-]+)/g)) names.push(m[1]!);
  for (const m of line.matchAll(/\bnpm\s+(test|start)\b/g)) names.push(m[1]!);
  return names;
}

/**
 * One line per command a guide shows that the CLI or package.json doesn't have:
 * an unknown `tipline` subcommand, an option its --help doesn't name (plus
 * `alsoTakes`, options a whole group takes, keyed by its first word), or an
 * unknown npm script.
 */
export function commandProblems(
  doc: MarkdownDoc,
  help: HelpCommand[],
  scripts: Record<string, string>,
  alsoTakes: Record<string, string[]> = {},
): string[] {
  const problems: string[] = [];
  for (const { text, line } of doc.code) {
    for (const { words, options } of tiplineCommands(text)) {
      const shown = `tipline ${words.join(' ')}`;
      // A group (`tipline admin`) names commands too: it is a prefix of one.
      const known = help.some((c) => words.length <= c.path.length && words.every((w, i) => c.path[i] === w));
      if (!known) {
        problems.push(`${doc.path}:${line}: \`${shown}\` is not a command in tipline --help`);
        continue;
      }
      const exact = help.filter((c) => c.path.join(' ') === words.join(' '));
      if (exact.length === 0) continue;
      const allowed = new Set([...exact.flatMap((c) => [...c.options]), ...(alsoTakes[words[0]!] ?? []), '--help']);
      for (const o of options) if (!allowed.has(o)) problems.push(`${doc.path}:${line}: \`${shown}\` has no option ${o} in tipline --help`);
    }
    for (const name of npmScripts(text)) {
      if (!(name in scripts)) problems.push(`${doc.path}:${line}: \`npm run ${name}\` is not a script in package.json`);
    }
  }
  return problems;
}

/**
 * What a relative link points at, for `linkProblems`: a Markdown file (its
 * anchors are checked), another existing file or folder, or nothing.
 */
export type LinkTarget = MarkdownDoc | 'file' | undefined;

/**
 * One line per relative link that leads nowhere: a missing file, or an #anchor
 * that no heading of the target makes. Web links (`https:`, `mailto:`) are not
 * followed: this checks the repository, offline.
 */
export function linkProblems(doc: MarkdownDoc, lookup: (repoPath: string) => LinkTarget): string[] {
  const problems: string[] = [];
  for (const { target, line } of doc.links) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const hash = target.indexOf('#');
    const file = hash === -1 ? target : target.slice(0, hash);
    const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const repoPath = file === '' ? doc.path : posix.normalize(posix.join(posix.dirname(doc.path), decodeURIComponent(file)));
    const where = `${doc.path}:${line}: (${target})`;
    if (repoPath.startsWith('../') || posix.isAbsolute(repoPath)) {
      problems.push(`${where} leaves the repository`);
      continue;
    }
    const found = lookup(repoPath);
    if (!found) problems.push(`${where} ${repoPath} does not exist`);
    else if (anchor !== undefined && found !== 'file' && !found.anchors.has(anchor)) problems.push(`${where} no heading in ${repoPath} makes #${anchor}`);
    else if (anchor !== undefined && found === 'file') problems.push(`${where} an #anchor into ${repoPath}, which is not Markdown`);
  }
  return problems;
}
