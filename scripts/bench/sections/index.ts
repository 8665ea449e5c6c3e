/** Every benchmark section, in the order `npm run bench` runs them (the order). */
import type { BenchContext } from '../context.ts';
import type { SectionResult } from '../result.ts';
import { browserEncryptSection } from './browser-encrypt.ts';
import { browserUploadSection } from './browser-upload.ts';
import { firefoxSaferUploadSection } from './firefox-safer-upload.ts';
import { jitlessSection } from './jitless.ts';
import { journalistSection } from './journalist.ts';
import { scaleSection } from './scale.ts';
import { serverEncryptSection } from './server-encrypt.ts';
import { submitSection } from './submit.ts';
import { uploadSection } from './upload.ts';

export type Section = {
  name: string;
  /** What the section reports, for a result that can't say it itself (n/a). */
  target: string;
  unit: string;
  run: (ctx: BenchContext) => Promise<SectionResult>;
};

export const SECTIONS: Section[] = [
  { name: 'submit', target: '≥ 0.7× throughput, p99 ≤ 2× baseline', unit: 'tips/s', run: submitSection },
  { name: 'server-encrypt', target: '≥ 5×', unit: 'tips/s', run: serverEncryptSection },
  { name: 'upload', target: '≥ 0.6× throughput, RSS growth < 64 MiB', unit: 'MiB/s', run: uploadSection },
  { name: 'browser-encrypt', target: '≥ 0.5×', unit: 'MiB/s', run: browserEncryptSection },
  { name: 'firefox-safer-upload', target: '≥ 20 MiB/s at Safer (value: Safer; baseline: Standard)', unit: 'MiB/s', run: firefoxSaferUploadSection },
  { name: 'browser-upload', target: 'tab memory flat from 64 to 512 MiB', unit: 'MiB (peak tab RSS)', run: browserUploadSection },
  { name: 'journalist', target: '≥ 3× faster', unit: 's', run: journalistSection },
  { name: 'scale', target: '≤ 1.5× from 10k to 1M (submit and list p50)', unit: 'ms (submit p50)', run: scaleSection },
  { name: 'jitless', target: 'login < 1 s jitless; proof of work printed', unit: 'ms (login)', run: jitlessSection },
];
