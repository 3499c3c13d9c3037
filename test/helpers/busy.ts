/** Holds the event loop, as a burst of work does: no timer can fire meanwhile. */
export function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}
