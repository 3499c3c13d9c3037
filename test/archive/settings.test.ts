/**
 * The archive's configuration: TASKGATE_ARCHIVE's two forms, the TASKGATE_CONFIG
 * `archive` settings and their defaults, the standard AWS variables (and which endpoint
 * wins), a bad value stopping the boot with the variable named, and the secret key and
 * session token redacted wherever the configuration could be logged or echoed.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { ConfigError, loadConfig } from '../../src/config.js';
import { SecretRedactor } from '../../src/redact.js';
import { loggerOptions } from '../../src/server.js';
import { PROVIDERS } from '../../src/providers/index.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TOKEN = 'FwoGZXIvYXdzEXAMPLESESSIONTOKENxyz';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

test('the archive is off by default, with the documented settings', () => {
  const { archive } = loadConfig({});
  assert.equal(archive.url, undefined);
  assert.equal(archive.retentionDays, 30);
  assert.equal(archive.maxFileBytes, 2 * 1024 ** 3);
  assert.equal(archive.concurrency, 4);
  assert.equal(archive.forcePathStyle, false);
  assert.equal(archive.sweepIntervalMs, 3_600_000);
});

test('TASKGATE_ARCHIVE takes a folder or a bucket with an optional prefix', () => {
  assert.deepEqual(loadConfig({ TASKGATE_ARCHIVE: 'file:///var/lib/taskgate/archive/' }).archive.url, { kind: 'file', directory: '/var/lib/taskgate/archive' });
  assert.deepEqual(loadConfig({ TASKGATE_ARCHIVE: 's3://results' }).archive.url, { kind: 's3', bucket: 'results', prefix: '' });
  assert.deepEqual(loadConfig({ TASKGATE_ARCHIVE: 's3://results/taskgate/prod/' }).archive.url, { kind: 's3', bucket: 'results', prefix: 'taskgate/prod/' });
  for (const bad of ['file://relative/dir', 'file:///', '/var/lib/archive', 's3://', 'https://bucket.example', 'file://host/dir', 's3://a']) {
    assert.match(refusal({ TASKGATE_ARCHIVE: bad }), /^TASKGATE_ARCHIVE: /, bad);
  }
});

test('TASKGATE_CONFIG archive settings are validated, naming the setting', () => {
  const file = (archive: Record<string, unknown>) => ({ TASKGATE_CONFIG: JSON.stringify({ archive }) });
  const config = loadConfig({ ...file({ retentionDays: 0, maxFileBytes: 1024, concurrency: 1, forcePathStyle: true }), TASKGATE_ARCHIVE: 's3://results' });
  assert.equal(config.archive.retentionDays, 0);
  assert.equal(config.archive.maxFileBytes, 1024);
  assert.equal(config.archive.forcePathStyle, true);
  assert.match(refusal(file({ retentionDays: -1 })), /TASKGATE_CONFIG: archive\.retentionDays/);
  assert.match(refusal(file({ concurrency: 0 })), /TASKGATE_CONFIG: archive\.concurrency/);
  assert.match(refusal(file({ maxFileBytes: 0 })), /TASKGATE_CONFIG: archive\.maxFileBytes/);
  assert.match(refusal(file({ forcePathStyle: 'yes' })), /TASKGATE_CONFIG: archive\.forcePathStyle/);
  assert.match(refusal(file({ bucket: 'x' })), /TASKGATE_CONFIG: archive/);
});

test('the AWS variables: a key pair or none, and the S3-specific endpoint wins', () => {
  const s3 = { TASKGATE_ARCHIVE: 's3://results' };
  const config = loadConfig({
    ...s3,
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: TOKEN,
    AWS_REGION: 'eu-central-1',
    AWS_ENDPOINT_URL: 'http://general.example:9000',
    AWS_ENDPOINT_URL_S3: 'http://s3.example:9000',
  });
  assert.deepEqual(config.archive.s3, { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: SECRET, sessionToken: TOKEN, region: 'eu-central-1', endpoint: 'http://s3.example:9000' });
  assert.equal(loadConfig({ ...s3, AWS_ENDPOINT_URL: 'http://general.example:9000' }).archive.s3.endpoint, 'http://general.example:9000');
  assert.match(refusal({ ...s3, AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }), /^AWS_SECRET_ACCESS_KEY: is required with AWS_ACCESS_KEY_ID/);
  assert.match(refusal({ ...s3, AWS_SECRET_ACCESS_KEY: SECRET }), /^AWS_ACCESS_KEY_ID: is required with AWS_SECRET_ACCESS_KEY/);
  assert.match(refusal({ ...s3, AWS_ENDPOINT_URL: 'http://fine.example', AWS_ENDPOINT_URL_S3: 'ftp://s3.example' }), /^AWS_ENDPOINT_URL_S3: must be an http\(s\) URL/);
  // Without an S3 archive the endpoint is nobody's business: another tool's variable does not stop the boot.
  assert.equal(loadConfig({ AWS_ENDPOINT_URL: 'not a url' }).archive.url, undefined);
});

test('the secret key and session token never reach a log line, whatever is logged', () => {
  const config = loadConfig({ TASKGATE_ARCHIVE: 's3://results', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: SECRET, AWS_SESSION_TOKEN: TOKEN });
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = pino(loggerOptions('info'), stream);
  log.info({ config }, 'the whole configuration');
  log.info({ archive: config.archive }, 'the archive settings');
  log.info({ s3: config.archive.s3 }, 'the S3 settings');
  log.info(config.archive.s3, 'the S3 settings at the top');
  assert.ok(text.includes('AKIAEXAMPLE'), 'the logs were written (the key id is not secret)');
  assert.ok(!text.includes(SECRET) && !text.includes(TOKEN), text);
  // Text a provider echoes back is cut too, like a provider key.
  const redactor = SecretRedactor.fromConfig(config, PROVIDERS);
  assert.equal(redactor.text(`signature by ${SECRET} with ${TOKEN}`), 'signature by [redacted] with [redacted]');
});
