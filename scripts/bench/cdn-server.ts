/**
 * The result files' origin for the content scenario, in its own process: the simulators'
 * public "CDN" (src/simulators/media/cdn.ts, synthetic files of any size with ranges).
 * Prints `{"url": …, "links": {"<asset>": "<signed link valid for a day>"}}` once it listens.
 *
 * node --import tsx scripts/bench/cdn-server.ts --asset synthetic-50m.bin [--asset …]
 */
import { parseArgs } from 'node:util';
import { startCdn } from '../../src/simulators/media/cdn.js';

const LINK_TTL_MS = 24 * 60 * 60 * 1000;

const { values } = parseArgs({ options: { asset: { type: 'string', multiple: true } } });
const cdn = await startCdn();
const links = Object.fromEntries((values.asset ?? []).map((name) => [name, cdn.signedUrl(name, LINK_TTL_MS)]));
process.stdout.write(`${JSON.stringify({ url: cdn.url, links })}\n`);
const stop = () => {
  cdn.close().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
