/**
 * Bounded concurrency that still reports in order. `fetch` and `decrypt` spend
 * most of a tip's time waiting (for the server, for the file system), so they
 * work on a few tips at once; but what they print, count and return must not
 * depend on which tip happened to finish first. {@link inOrder} runs `work`
 * on at most `limit` items at a time and hands each result to `report` in the
 * items' own order, as soon as it and every item before it are done.
 *
 * On the first failure no new item is started; the ones already under way are
 * let finish (each of them writes atomically, so none is left half-done), and
 * then the failure of the earliest item is thrown, as it would have been one
 * item at a time. Nothing from that item on is reported.
 *
 * @module
 * @example
 * await inOrder(tips, 8, (tip) => download(tip), (bytes, tip) => log(`fetched ${tip.id}`));
 */

export async function inOrder<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  report: (result: R, item: T, index: number) => void,
): Promise<void> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const done = new Map<number, R>();
  let nextToStart = 0;
  let nextToReport = 0;
  let failure: { error: unknown; index: number } | undefined;
  const fail = (error: unknown, index: number) => {
    if (failure === undefined || index < failure.index) failure = { error, index };
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && nextToStart < items.length) {
      const index = nextToStart++;
      try {
        done.set(index, await work(items[index]!, index));
      } catch (error) {
        fail(error, index);
        return;
      }
      // Only after every earlier item has been reported, so the order never changes.
      while (failure === undefined && done.has(nextToReport)) {
        const result = done.get(nextToReport)!;
        done.delete(nextToReport);
        try {
          report(result, items[nextToReport]!, nextToReport);
        } catch (error) {
          fail(error, nextToReport);
          return;
        }
        nextToReport++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
