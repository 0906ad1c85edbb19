// Rest-hook Subscription dispatcher for the in-memory test server.
//
// Medplum's server runs Subscriptions in a worker (Redis + BullMQ) that the bare router
// does not have. This module does the same for the tests: after every committed
// create/update it evaluates the active rest-hook Subscriptions' criteria with
// @medplum/core's search matching and POSTs the resource to channel.endpoint with the
// headers Medplum's worker sends (packages/server/src/workers/subscription.ts):
//   Content-Type: application/fhir+json, X-Medplum-Subscription, X-Medplum-Interaction,
//   each channel.header "Name: value", and, when the subscription-secret extension is
//   set, X-Signature = hex HMAC-SHA256 of the exact body keyed by the secret text.
// The body is @medplum/core's stringify(resource), as the worker sends it.
//
// dispatcher.idle() resolves when every notification started so far has been answered;
// dispatcher.deliveries lists [subscriptionId, status or error] for the tests.
import { createHmac } from 'node:crypto';
import { getExtensionValue, matchesSearchRequest, parseSearchRequest, stringify } from '@medplum/core';

const SECRET_URLS = [
  'https://www.medplum.com/fhir/StructureDefinition/subscription-secret',
  'https://www.medplum.com/fhir/StructureDefinition-subscriptionSecret',
];
const INTERACTION_URL = 'https://medplum.com/fhir/StructureDefinition/subscription-supported-interaction';

function headersFor(subscription, interaction, body) {
  const headers = {
    'Content-Type': 'application/fhir+json',
    'X-Medplum-Subscription': subscription.id,
    'X-Medplum-Interaction': interaction,
  };
  for (const header of subscription.channel.header ?? []) {
    const [key, value] = header.split(/:/);
    headers[key.trim()] = value.trim();
  }
  const secret = SECRET_URLS.map((url) => getExtensionValue(subscription, url)).find(Boolean);
  if (secret && typeof secret === 'string') {
    headers['X-Signature'] = createHmac('sha256', secret).update(body).digest('hex');
  }
  return headers;
}

function matches(subscription, resource, interaction) {
  if (subscription.status !== 'active' || subscription.channel?.type !== 'rest-hook') return false;
  const only = getExtensionValue(subscription, INTERACTION_URL);
  if (only && only !== interaction) return false;
  try {
    return matchesSearchRequest(resource, parseSearchRequest(subscription.criteria));
  } catch {
    return false;
  }
}

export function attachSubscriptions(repo) {
  const inFlight = new Set();
  const deliveries = [];
  repo.onWrite((resource, interaction) => {
    if (interaction === 'delete' || resource.resourceType === 'AuditEvent') return;
    const subscriptions = [...(repo.resources.get('Subscription')?.values() ?? [])];
    for (const subscription of subscriptions) {
      if (!matches(subscription, resource, interaction) || !subscription.channel.endpoint) continue;
      const body = stringify(resource);
      const sent = fetch(subscription.channel.endpoint, {
        method: 'POST',
        headers: headersFor(subscription, interaction, body),
        body,
      })
        .then((response) => deliveries.push([subscription.id, response.status]))
        .catch((err) => deliveries.push([subscription.id, String(err)]))
        .finally(() => inFlight.delete(sent));
      inFlight.add(sent);
    }
  });
  return {
    deliveries,
    idle: async () => {
      while (inFlight.size) await Promise.allSettled([...inFlight]);
    },
  };
}
