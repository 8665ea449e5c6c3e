export function buildAll(options?: { quiet?: boolean; outDir?: string }): Promise<void>;
