/**
 * The renderer's memory of renderings (src/tasks/render.ts): a state asked for again and
 * again is rendered twice at most, and a state rendered once is not held on to (its JSON
 * would otherwise live as long as the caches keep the state).
 */
import assert from 'node:assert/strict';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { test } from 'node:test';
import { collectAndShrink } from '../../src/memory.js';
import type { TaskState } from '../../src/providers/types.js';
import { TaskRenderer, type TaskSnapshot } from '../../src/tasks/render.js';

const context = { origin: 'https://gateway.example' };

function succeeded(): TaskState {
  const url = 'https://cdn.example.com/v.mp4';
  return {
    provider_task_id: 'task_abc001',
    status: 'succeeded',
    provider_status: 'succeeded',
    progress: 100,
    url,
    outputs: [{ type: 'video', url }],
    error: null,
    model: 'v1',
    created_at: '2026-12-07T10:00:00Z',
    completed_at: '2026-12-07T10:01:00Z',
    expires_at: null,
  };
}

function snapshotOf(state: TaskState): TaskSnapshot {
  return { id: 'vtrix:task_abc001', provider: 'vtrix', nativeId: 'task_abc001', state, fetchedAt: Date.now() };
}

const renderer = () => new TaskRenderer(() => ({ pollIntervalMs: 5000 }));

test('a state rendered again and again is rendered twice at most, each time the same JSON', () => {
  const tasks = renderer();
  const snapshot = snapshotOf(succeeded());
  const [first, second, third, fourth] = [1, 2, 3, 4].map(() => tasks.render(snapshot, context));
  assert.equal(first!.json, second!.json);
  assert.equal(first!.etag, second!.etag);
  // The second rendering is the one kept: later ones are it.
  assert.notEqual(second!.task, first!.task);
  assert.equal(third!.task, second!.task);
  assert.equal(fourth!.task, second!.task);
  // Another origin is another rendering of the same state.
  const elsewhere = tasks.render(snapshot, { origin: 'https://other.example' });
  assert.match(elsewhere.json, /https:\/\/other\.example\/tasks\/vtrix%3Atask_abc001\/content/);
  assert.equal(tasks.render(snapshot, context).task, second!.task);
});

test('a state rendered once is not kept, though the state itself lives on', async () => {
  const tasks = renderer();
  // Held like a cache holds it.
  const snapshot = snapshotOf(succeeded());
  const rendered = new WeakRef(tasks.render(snapshot, context).task);
  await nextTurn();
  assert.ok(collectAndShrink(), 'V8 would not expose its collector (--expose-gc) to this process');
  assert.equal(rendered.deref(), undefined, 'the rendering of a state rendered once was kept');
  assert.equal(snapshot.state.status, 'succeeded');
});
