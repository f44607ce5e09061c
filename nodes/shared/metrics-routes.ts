// SPDX-License-Identifier: Apache-2.0
/**
 * Where endpoint metrics leave the runtime: the editor's sidebar (`GET /event-streams/stats`,
 * JSON) and, only when settings.js turns it on, Prometheus (`GET /event-streams/metrics`, text).
 *
 * Both go through Node-RED's admin authentication (`RED.auth.needsPermission`): with adminAuth on,
 * a scraper needs a token with `event-streams-endpoint.read` (adminAuth's `tokens` option), the same
 * permission the editor's topic list uses. Nothing is computed until someone asks: the sidebar
 * polls only while it is open, and a snapshot costs O(endpoints × 60).
 */
import type { NodeAPI } from 'node-red';

import { type MetricsSnapshot, prometheusText } from '../../lib/metrics';

/** What the endpoint node registers: its label and how to read its metrics now. */
export interface MetricsSource {
  name: string;
  snapshot(): MetricsSnapshot;
}

/** settings.js: `eventStreamsEndpointMetrics: true` serves the Prometheus route. Off by default. */
export const METRICS_SETTING = 'eventStreamsEndpointMetrics';

const sources = new Map<string, MetricsSource>();

export function trackMetrics(id: string, source: MetricsSource): void {
  sources.set(id, source);
}

/** Only the source that registered may remove itself (a redeploy registers the new node first). */
export function untrackMetrics(id: string, source: MetricsSource): void {
  if (sources.get(id) === source) sources.delete(id);
}

export function snapshots(): Array<{ id: string; name: string; snapshot: MetricsSnapshot }> {
  const out: Array<{ id: string; name: string; snapshot: MetricsSnapshot }> = [];
  for (const [id, source] of sources) out.push({ id, name: source.name, snapshot: source.snapshot() });
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

interface Res {
  status(code: number): Res;
  json(body: unknown): void;
  set(name: string, value: string): Res;
  send(body: string): void;
}

/** Called once per runtime, as the node module is loaded (like the endpoint's other editor routes). */
export function registerMetricsRoutes(RED: NodeAPI): void {
  const read = RED.auth.needsPermission('event-streams-endpoint.read');
  RED.httpAdmin.get('/event-streams/stats', read, (_req: unknown, res: Res) => {
    res.set('cache-control', 'no-store').json(snapshots());
  });
  RED.httpAdmin.get('/event-streams/metrics', read, (_req: unknown, res: Res) => {
    const settings = RED.settings as unknown as Record<string, unknown>;
    if (settings[METRICS_SETTING] !== true) {
      res
        .status(404)
        .json({ error: `Prometheus metrics are off; set ${METRICS_SETTING}: true in settings.js` });
      return;
    }
    res
      .set('content-type', 'text/plain; version=0.0.4; charset=utf-8')
      .set('cache-control', 'no-store')
      .send(prometheusText(snapshots()));
  });
}
