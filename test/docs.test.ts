/**
 * The guides can be trusted to lead somewhere: every relative link in README.md
 * and docs/*.md reaches a file (and its #anchor a heading there), every guide is
 * reachable from README, and every `tipline …` command and `npm run …` script
 * they show exists (the built CLI's --help names it, package.json has it).
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  commandProblems,
  githubSlug,
  helpCommands,
  linkProblems,
  readMarkdown,
  tiplineCommands,
  type LinkTarget,
  type MarkdownDoc,
} from './helpers/doc-check.ts';

const root = join(import.meta.dirname, '..');
const guides = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const docs = new Map<string, MarkdownDoc>();
function markdown(path: string): MarkdownDoc {
  let doc = docs.get(path);
  if (!doc) docs.set(path, (doc = readMarkdown(path, readFileSync(join(root, path), 'utf8'))));
  return doc;
}
const lookup = (path: string): LinkTarget => (!existsSync(join(root, path)) ? undefined : path.endsWith('.md') ? markdown(path) : 'file');

function tiplineHelp(): string {
  if (!existsSync(join(root, 'dist/tipline.js'))) throw new Error('dist/ is not built: run npm run build');
  return execFileSync(process.execPath, [join(root, 'bin/tipline.js'), '--help'], { encoding: 'utf8' });
}
const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('the guides', () => {
  it('README stays a front door: about 200 lines at most', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(201);
  });

  it('every relative link reaches a file, and every #anchor a heading in it', () => {
    const problems = guides.flatMap((g) => linkProblems(markdown(g), lookup));
    expect(problems).toEqual([]);
    // Not vacuous: the guides link to each other and into the code a lot.
    const relative = guides.flatMap((g) => markdown(g).links).filter((l) => !/^[a-z]+:/i.test(l.target));
    expect(relative.length).toBeGreaterThan(40);
    expect(relative.filter((l) => l.target.includes('#')).length).toBeGreaterThan(15);
  });

  it('every guide in docs/ can be reached from README by following links', () => {
    const reached = new Set<string>(['README.md']);
    const queue = ['README.md'];
    while (queue.length > 0) {
      const doc = markdown(queue.shift()!);
      for (const { target } of doc.links) {
        if (/^[a-z]+:/i.test(target)) continue;
        const file = target.split('#')[0]!;
        const path = file === '' ? doc.path : join(doc.path, '..', file).replaceAll('\\', '/');
        if (path.endsWith('.md') && existsSync(join(root, path)) && !reached.has(path)) {
          reached.add(path);
          queue.push(path);
        }
      }
    }
    expect(guides.filter((g) => !reached.has(g))).toEqual([]);
  });

  it('every tipline command, option and npm script they show exists', () => {
    const text = tiplineHelp();
    const help = helpCommands(text);
    expect(help.length).toBeGreaterThan(20);
    // --help says this once for the whole group, below the admin commands.
    expect(text).toContain('Every admin command also takes --database-url');
    const alsoTakes = { admin: ['--database-url'] };
    expect(guides.flatMap((g) => commandProblems(markdown(g), help, scripts, alsoTakes))).toEqual([]);
    const shown = guides.flatMap((g) => markdown(g).code.flatMap((c) => tiplineCommands(c.text)));
    expect(shown.length).toBeGreaterThan(60);
    expect(shown.flatMap((c) => c.options).length).toBeGreaterThan(80);
    // Every command in --help is shown somewhere (a new one needs its guide).
    const explained = new Set(shown.map((c) => c.words.join(' ')));
    expect(help.map((c) => c.path.join(' ')).filter((p) => !explained.has(p))).toEqual([]);
  });

  it('every "For sources" page links to English and to every other language, and README to each', () => {
    const translations = guides.filter((g) => /^docs\/for-sources\.[^.]+\.md$/.test(g));
    expect(translations.length).toBeGreaterThanOrEqual(4);
    const targets = (g: string) => new Set(markdown(g).links.map((l) => l.target));
    for (const page of translations) {
      const others = translations.filter((t) => t !== page).map((t) => t.slice('docs/'.length));
      expect([...others, '../README.md#for-sources'].filter((t) => !targets(page).has(t)), page).toEqual([]);
    }
    expect(translations.filter((t) => !targets('README.md').has(t))).toEqual([]);
  });
});

describe('what the program tells its users to read', () => {
  it('every guide and section a message names exists', () => {
    const files = ['server', 'client', 'cli'].flatMap((folder) =>
      readdirSync(join(root, folder), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith('.ts'))
        .map((e) => join(e.parentPath, e.name)),
    );
    const named: string[] = [];
    const problems: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      // `docs/deploy.md ("PostgreSQL (more than one instance)")`, `docs/deploy.md says under "…"`
      for (const m of text.matchAll(/\b(docs\/[\w.-]+\.md)\b(?:[^"\n`]{0,30}"([^"\n]+)")?/g)) {
        const where = `${file.slice(root.length + 1)}: ${m[1]}${m[2] ? ` "${m[2]}"` : ''}`;
        named.push(where);
        const target = lookup(m[1]!);
        if (!target || target === 'file') problems.push(`${where}: no such guide`);
        else if (m[2] && !target.anchors.has(githubSlug(m[2]))) problems.push(`${where}: no such section`);
      }
    }
    expect(problems).toEqual([]);
    expect(named.length).toBeGreaterThanOrEqual(4);
  });
});

describe('the checker itself finds what is broken', () => {
  const guide = readMarkdown(
    'docs/example.md',
    [
      '# Example',
      '## Keeping the key off the server',
      '## Runbook',
      '## Runbook',
      '### Watching: `tipline verify`',
      '```sh',
      '# Once: a shell comment, not a heading',
      'npx tipline admin init --data DIR   # [not a link](nowhere.md)',
      'sudo -u tipline node bin/tipline.js serve',
      'tipline admin journalist fire --name Ana',
      'npm run bench -- --only submit && npm run deploy',
      'tipline admin journalist add --name Ana \\',
      '  --key ana.asc --desks Community | tee log   # --not-an-option',
      'tipline serve --data /srv --onion "$(cat hostname)" --database-url postgres://x',
      '```',
      'See [the runbook](#runbook), [again](#runbook-1), [verify](#watching-tipline-verify),',
      '[a wrapped',
      'link](admin.md#runbook) and [`deploy/torrc`](../deploy/torrc), but `[code](gone.md)` is code.',
      '[gone](gone.md) · [no anchor](admin.md#nothing) · [shell](#once-a-shell-comment-not-a-heading) · [up](../../etc/passwd)',
      '[torrc anchor](../deploy/torrc#x) · [web](https://example.org/missing.md)',
    ].join('\n'),
  );
  const admin = readMarkdown('docs/admin.md', '# Admin\n\n## Runbook\n');
  const look = (p: string): LinkTarget => (p === 'docs/admin.md' ? admin : p === 'docs/example.md' ? guide : p === 'deploy/torrc' ? 'file' : undefined);

  it("makes GitHub's anchors, counting repeated headings", () => {
    expect(githubSlug('PostgreSQL (more than one instance)')).toBe('postgresql-more-than-one-instance');
    expect(githubSlug('2a. Without Docker')).toBe('2a-without-docker');
    expect(githubSlug("What this does and doesn't protect against")).toBe('what-this-does-and-doesnt-protect-against');
    expect([...guide.anchors]).toEqual(['example', 'keeping-the-key-off-the-server', 'runbook', 'runbook-1', 'watching-tipline-verify']);
  });

  it('reports missing files and anchors, and links that leave the repository; ignores code and the web', () => {
    expect(linkProblems(guide, look)).toEqual([
      'docs/example.md:19: (gone.md) docs/gone.md does not exist',
      'docs/example.md:19: (admin.md#nothing) no heading in docs/admin.md makes #nothing',
      'docs/example.md:19: (#once-a-shell-comment-not-a-heading) no heading in docs/example.md makes #once-a-shell-comment-not-a-heading',
      'docs/example.md:19: (../../etc/passwd) leaves the repository',
      'docs/example.md:20: (../deploy/torrc#x) an #anchor into deploy/torrc, which is not Markdown',
    ]);
  });

  it('reports a subcommand, option or script that does not exist, not the system user', () => {
    const help = helpCommands(
      'Usage:\n  tipline serve [--data DIR]\n                [--onion ADDRESS]\n      Run it.\n  tipline admin init --data DIR\n  tipline admin journalist add --name NAME --key FILE [--desk NAME]\n\n  Every admin command also takes --database-url\n  tipline verify --server URL',
    );
    expect(help.map((c) => [c.path.join(' '), [...c.options]])).toEqual([
      ['serve', ['--data', '--onion']],
      ['admin init', ['--data']],
      ['admin journalist add', ['--name', '--key', '--desk']],
      ['verify', ['--server']],
    ]);
    expect(commandProblems(guide, help, { bench: 'node dist/bench/main.js' }, { admin: ['--database-url'] })).toEqual([
      'docs/example.md:10: `tipline admin journalist fire` is not a command in tipline --help',
      'docs/example.md:11: `npm run deploy` is not a script in package.json',
      'docs/example.md:12: `tipline admin journalist add` has no option --desks in tipline --help',
      'docs/example.md:14: `tipline serve` has no option --database-url in tipline --help',
    ]);
  });
});
