/**
 * What people read: the `text` form of a Task (the seed `vtrix task status` layout, for
 * every provider), durations, local times, byte counts, and colour that switches off.
 */
import type { Task, TaskStatus } from '../../schemas/task.js';

export type Paint = (style: Style, text: string) => string;
export type Style = 'green' | 'red' | 'yellow' | 'cyan' | 'dim' | 'bold';

const SGR: Record<Style, [number, number]> = {
  green: [32, 39],
  red: [31, 39],
  yellow: [33, 39],
  cyan: [36, 39],
  dim: [2, 22],
  bold: [1, 22],
};

export function painter(enabled: boolean): Paint {
  if (!enabled) return (_style, text) => text;
  return (style, text) => (text === '' ? '' : `\u001b[${SGR[style][0]}m${text}\u001b[${SGR[style][1]}m`);
}

export const STATUS_STYLE: Record<TaskStatus, Style> = {
  queued: 'dim',
  in_progress: 'cyan',
  succeeded: 'green',
  failed: 'red',
  canceled: 'yellow',
};

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

/** `45s`, `3m 07s`, `2h 05m 09s`. */
export function formatDuration(milliseconds: number): string {
  const totalSeconds = Math.max(0, Math.floor(milliseconds / 1000));
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h ${twoDigits(minutes)}m ${twoDigits(seconds)}s`;
  if (minutes > 0) return `${minutes}m ${twoDigits(seconds)}s`;
  return `${seconds}s`;
}

/** `2026-04-10 16:32:05 +02:00`: the seed's layout, in the user's time zone, which it names. */
export function formatLocalTime(instant: Date): string {
  const date = `${instant.getFullYear()}-${twoDigits(instant.getMonth() + 1)}-${twoDigits(instant.getDate())}`;
  const time = `${twoDigits(instant.getHours())}:${twoDigits(instant.getMinutes())}:${twoDigits(instant.getSeconds())}`;
  const offsetMinutes = -instant.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const absolute = Math.abs(offsetMinutes);
  return `${date} ${time} ${sign}${twoDigits(Math.floor(absolute / 60))}:${twoDigits(absolute % 60)}`;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `812 B`, `37.3 KiB`, `1.20 GiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${value} B`;
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

function timeOf(text: string | null): Date | undefined {
  if (text === null) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Created → completed for a finished task, created → now while it runs. */
function elapsed(task: Task, now: Date): string {
  const created = timeOf(task.created_at);
  if (created === undefined) return '-';
  const running = task.status === 'queued' || task.status === 'in_progress';
  const end = running ? now : timeOf(task.completed_at);
  return end === undefined ? '-' : formatDuration(end.getTime() - created.getTime());
}

/** The `text` output: `Key: value` lines like the seed CLI's, then the URL or the error. */
export function formatTaskText(task: Task, options: { now: Date; paint: Paint }): string {
  const { paint } = options;
  const providerStatus = task.provider_status === task.status ? '' : ` (${task.provider_status})`;
  const created = timeOf(task.created_at);
  const lines = [
    `Task: ${task.id}`,
    `Provider: ${task.provider}${task.provider_task_id === task.id ? '' : ` (${task.provider_task_id})`}`,
    `Status: ${paint(STATUS_STYLE[task.status], task.status)}${providerStatus}`,
    `Progress: ${task.progress === null ? '-' : `${task.progress}%`}`,
    `Model: ${task.model ?? '-'}`,
    `Created: ${created === undefined ? '-' : formatLocalTime(created)}`,
    `Elapsed: ${elapsed(task, options.now)}`,
  ];
  if (task.url !== null) lines.push(`URL: ${task.url}`);
  // Further files (a thumbnail beside the video…): what `download --output-index N` picks from.
  if (task.outputs.length > 1) task.outputs.forEach((output, index) => lines.push(`Output ${index}: ${output.type} ${output.url}`));
  const expires = timeOf(task.expires_at);
  if (expires !== undefined) lines.push(`Expires: ${formatLocalTime(expires)}`);
  if (task.error !== null) lines.push(`Error: ${paint('red', task.error.code)}: ${task.error.message}`);
  return `${lines.join('\n')}\n`;
}
