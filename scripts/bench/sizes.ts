/**
 * How big each section runs. `full` is what the issue asks for and fits in
 * 10 minutes on 2 cores; `small` is for the smoke test, which checks that the
 * harness works and must stay quick (it asserts no timing).
 */
export type SizeName = 'small' | 'full';

export type Sizes = {
  /** The whole run's time budget. */
  runSeconds: number;
  submit: { seconds: number; connections: number; maxTips: number };
  serverEncrypt: { seconds: number; maxTips: number };
  upload: { bytes: number };
  browserEncrypt: { bytes: number };
  /** The file the page encrypts in Firefox ESR at Standard and at Safer. */
  firefoxSaferUpload: { bytes: number };
  /** The two file sizes whose tab memory is compared (small, large). */
  browserUpload: { bytes: readonly [number, number] };
  journalist: { tips: number };
  scale: { levels: number[]; seconds: number; connections: number; maxRequests: number; budgetSeconds: number };
  jitless: { runs: number; powHashes: number };
};

const MiB = 1024 * 1024;

export const SIZES: Record<SizeName, Sizes> = {
  full: {
    // 10 minutes on 2 cores, with room to spare for starting up and cleaning up.
    runSeconds: 570,
    // A pool of answers big enough for 20 s at several thousand tips/s.
    submit: { seconds: 20, connections: 50, maxTips: 40_000 },
    serverEncrypt: { seconds: 5, maxTips: 5_000 },
    upload: { bytes: 1024 * MiB },
    browserEncrypt: { bytes: 256 * MiB },
    firefoxSaferUpload: { bytes: 256 * MiB },
    browserUpload: { bytes: [64 * MiB, 512 * MiB] },
    journalist: { tips: 1_000 },
    scale: { levels: [10_000, 100_000, 1_000_000], seconds: 5, connections: 10, maxRequests: 20_000, budgetSeconds: 420 },
    jitless: { runs: 5, powHashes: 65_536 },
  },
  small: {
    runSeconds: 120,
    submit: { seconds: 10, connections: 5, maxTips: 50 },
    serverEncrypt: { seconds: 2, maxTips: 10 },
    upload: { bytes: 1 * MiB },
    browserEncrypt: { bytes: 1 * MiB },
    firefoxSaferUpload: { bytes: 1 * MiB },
    browserUpload: { bytes: [1 * MiB, 2 * MiB] },
    journalist: { tips: 20 },
    scale: { levels: [50, 100, 200], seconds: 2, connections: 2, maxRequests: 20, budgetSeconds: 60 },
    jitless: { runs: 1, powHashes: 2_048 },
  },
};
