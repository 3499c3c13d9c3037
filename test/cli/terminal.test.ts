/**
 * The TTY path under a real pseudo-terminal (util-linux `script`): the progress bar is
 * redrawn in place with `\r`, ends on a clean line before the final output, and colour
 * follows NO_COLOR.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCliOnTerminal, startGateway, type Gateway } from '../helpers/cli.js';

const ESCAPE = '\u001b[';

function pinRunningTask(gateway: Gateway, id: string): void {
  gateway.stack.vtrix.setTask(id, {
    variant: 'model',
    timeline: [
      { atMs: 0, status: 'in_progress', progress: 20 },
      { atMs: 1500, status: 'in_progress', progress: 60 },
      { atMs: 3000, status: 'succeeded' },
    ],
  });
}

test('on a terminal, wait redraws one bar in place and ends it on a clean line', async (t) => {
  const gateway = await startGateway(t);
  pinRunningTask(gateway, 'task_tty00001');
  const { code, transcript } = await runCliOnTerminal(['wait', 'task_tty00001', '--gateway', gateway.url]);
  assert.equal(code, 0, transcript);
  const [progress = '', output = ''] = transcript.split(/(?=^Task: )/m);
  const draws = progress.split('\r').filter((draw) => draw.includes('█') || draw.includes('░'));
  assert.ok(draws.length >= 3, `redraws: ${JSON.stringify(progress)}`);
  // Everything before the final output is one terminal line, rewritten: no newline until the end.
  assert.doesNotMatch(progress.slice(0, progress.lastIndexOf('\r')), /\n/);
  assert.match(draws.find((draw) => draw.includes('20%')) ?? '', /in_progress/);
  assert.match(draws.at(-1) ?? '', /100%.*succeeded/);
  assert.ok(progress.endsWith('\r\n'), `the bar's line is ended: ${JSON.stringify(progress.slice(-80))}`);
  assert.match(output, /^Task: task_tty00001\r\nProvider: vtrix\r\n/);
  assert.ok(transcript.includes(`${ESCAPE}32msucceeded`), 'the final state is coloured');
});

test('NO_COLOR leaves the bar and the text without a single escape sequence', async (t) => {
  const gateway = await startGateway(t);
  pinRunningTask(gateway, 'task_tty00002');
  const { code, transcript } = await runCliOnTerminal(['wait', 'task_tty00002', '--gateway', gateway.url], { NO_COLOR: '1' });
  assert.equal(code, 0, transcript);
  assert.ok(transcript.includes('\r') && transcript.includes('█'), 'still a bar');
  assert.ok(!transcript.includes('\u001b'), JSON.stringify(transcript.slice(0, 200)));
});

test('on a terminal, json output ends with a newline so the prompt starts on its own line', async (t) => {
  const gateway = await startGateway(t);
  const { code, transcript } = await runCliOnTerminal(['status', 'video_69095b4ce0048190893a01510c0c98b0', '--output', 'json', '--gateway', gateway.url]);
  assert.equal(code, 0, transcript);
  assert.match(transcript, /^\{"id":"video_69095b4ce0048190893a01510c0c98b0".*\}\r\n$/);
});
