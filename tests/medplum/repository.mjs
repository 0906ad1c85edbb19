// Medplum's MemoryRepository with what a real Medplum server adds around it:
// validation of every written resource, all-or-nothing transactions, serialised
// writes (Medplum runs conditional transactions serialisable) and an identifier index
// so conditional creates do not scan every stored resource.
import { OperationOutcomeError, badRequest, validateResource } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';

/** Throw a 400 OperationOutcome naming the first invalid field of a resource. */
export function assertValid(resource, prefix) {
  if (!resource || typeof resource !== 'object' || typeof resource.resourceType !== 'string') {
    throw new OperationOutcomeError(badRequest('Missing resourceType', prefix ?? undefined));
  }
  let issues;
  try {
    issues = validateResource(resource);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      issues = err.outcome.issue ?? [];
    } else {
      throw err;
    }
  }
  const errors = (issues ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (errors.length) {
    const outcome = {
      resourceType: 'OperationOutcome',
      id: 'validation-error',
      issue: errors.map((i) => ({
        ...i,
        expression: prefix ? (i.expression ?? []).map((e) => `${prefix}.${e}`) : i.expression,
      })),
    };
    throw new OperationOutcomeError(outcome);
  }
}

function identifierKeys(resource) {
  const keys = [];
  // Most types have a list of identifiers; Bundle (and a few others) have exactly one.
  const all = resource.identifier;
  for (const ident of Array.isArray(all) ? all : all ? [all] : []) {
    if (ident?.value === undefined) continue;
    keys.push(`${ident.system ?? ''}|${ident.value}`);
    keys.push(`|${ident.value}`);
  }
  return keys;
}

export class ServerRepository extends MemoryRepository {
  constructor() {
    super();
    this.identifiers = new Map(); // resourceType -> Map(key -> Set(id))
    this.journal = null; // [[resourceType, id, previous or undefined]] during a transaction
    this.pending = null; // writes to announce after commit
    this.lock = Promise.resolve();
    this.listeners = [];
    this.validated = false; // true while a bundle validated up front is being written
  }

  /** fn(resource, interaction) runs after every committed create/update ("delete": {resourceType, id}). */
  onWrite(fn) {
    this.listeners.push(fn);
  }

  announce(resource, interaction) {
    if (this.pending) {
      this.pending.push([resource, interaction]);
      return;
    }
    for (const fn of this.listeners) {
      try {
        fn(resource, interaction);
      } catch (err) {
        console.error('write listener failed', err);
      }
    }
  }

  /** Run fn with every other write excluded. */
  async exclusive(fn) {
    const previous = this.lock;
    let release;
    this.lock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  clear() {
    super.clear();
    this.identifiers.clear();
  }

  indexRemove(resource) {
    const byKey = this.identifiers.get(resource.resourceType);
    if (!byKey) return;
    for (const key of identifierKeys(resource)) byKey.get(key)?.delete(resource.id);
  }

  indexAdd(resource) {
    let byKey = this.identifiers.get(resource.resourceType);
    if (!byKey) this.identifiers.set(resource.resourceType, (byKey = new Map()));
    for (const key of identifierKeys(resource)) {
      let ids = byKey.get(key);
      if (!ids) byKey.set(key, (ids = new Set()));
      ids.add(resource.id);
    }
  }

  current(resourceType, id) {
    return this.resources.get(resourceType)?.get(id);
  }

  async createResource(resource) {
    if (!this.validated) assertValid(resource);
    const previous = resource.id ? this.current(resource.resourceType, resource.id) : undefined;
    const saved = await super.createResource(resource);
    this.journal?.push([saved.resourceType, saved.id, previous]);
    if (previous) this.indexRemove(previous);
    this.indexAdd(saved);
    this.announce(saved, previous ? 'update' : 'create');
    return saved;
  }

  async deleteResource(resourceType, id) {
    const previous = this.current(resourceType, id);
    await super.deleteResource(resourceType, id);
    this.journal?.push([resourceType, id, previous]);
    if (previous) this.indexRemove(previous);
    this.announce({ resourceType, id }, 'delete');
  }

  /** A search on identifier alone is answered from the index, as a database would. */
  async search(searchRequest) {
    const filters = searchRequest.filters ?? [];
    const only = filters.length === 1 ? filters[0] : undefined;
    if (only && only.code === 'identifier' && (only.operator === 'eq' || only.operator === undefined)) {
      const value = String(only.value);
      const key = value.includes('|') ? value : `|${value}`;
      const ids = [...(this.identifiers.get(searchRequest.resourceType)?.get(key) ?? [])];
      const found = ids.map((id) => this.current(searchRequest.resourceType, id)).filter(Boolean);
      let entry = found.map((r) => ({ resource: JSON.parse(JSON.stringify(r)) }));
      if (searchRequest.offset !== undefined) entry = entry.slice(searchRequest.offset);
      if (searchRequest.count !== undefined) entry = entry.slice(0, searchRequest.count);
      return {
        resourceType: 'Bundle',
        type: 'searchset',
        ...(entry.length ? { entry } : {}),
        total: found.length,
      };
    }
    return super.search(searchRequest);
  }

  /** All or nothing: a failed transaction leaves no trace, as in Medplum's database. */
  async withTransaction(callback) {
    if (this.journal) return callback(undefined); // nested
    this.journal = [];
    this.pending = [];
    try {
      const result = await callback(undefined);
      const pending = this.pending;
      this.journal = null;
      this.pending = null;
      for (const [resource, interaction] of pending) this.announce(resource, interaction);
      return result;
    } catch (err) {
      const journal = this.journal;
      this.journal = null;
      this.pending = null;
      for (const [resourceType, id, previous] of journal.reverse()) {
        const now = this.current(resourceType, id);
        if (now) this.indexRemove(now);
        const byType = this.resources.get(resourceType);
        const versions = this.history.get(resourceType)?.get(id);
        if (previous) {
          byType?.set(id, previous);
          this.indexAdd(previous);
        } else {
          byType?.delete(id);
        }
        if (versions && now && versions[versions.length - 1] === now) versions.pop();
      }
      throw err;
    }
  }
}
