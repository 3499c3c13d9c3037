/**
 * How a result file is presented to the client that downloads it: its file name (from the
 * task id and the file's media type) and whether a browser shows it or saves it.
 */
import type { TaskOutput } from '../../schemas/task.js';

// A <video> or <img> ignores Content-Disposition: only opening the URL itself would render the bytes.
const MEDIA_TYPE = /^(?:video|audio|image)\/[\w.+-]+$/i;
const EXTENSIONS: Readonly<Record<string, string>> = {
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'image/webp': 'webp',
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/ogg': 'ogg',
};
const DEFAULT_EXTENSIONS: Readonly<Record<TaskOutput['type'], string>> = { video: 'mp4', image: 'jpg', audio: 'mp3', file: 'bin' };

/** `{nativeId}[-{index}].{extension}`: the extension from the file's media type, else from the output's type. */
export function fileName(nativeId: string, index: number, output: TaskOutput, contentType: string | undefined): string {
  const base = nativeId.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120) || 'result';
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  const extension = EXTENSIONS[mediaType] ?? DEFAULT_EXTENSIONS[output.type];
  return `${base}${index === 0 ? '' : `-${index}`}.${extension}`;
}

/** The `Content-Disposition` of a result file. */
export function dispositionOf(nativeId: string, index: number, output: TaskOutput, contentType: string | undefined, download: boolean): string {
  // Bytes from elsewhere are served from our origin: anything but media is a download, never a page.
  const media = contentType !== undefined && MEDIA_TYPE.test(contentType.split(';')[0]!.trim());
  const disposition = download || !media ? 'attachment' : 'inline';
  return `${disposition}; filename="${fileName(nativeId, index, output, contentType)}"`;
}
