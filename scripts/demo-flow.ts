// SPDX-License-Identifier: Apache-2.0
/**
 * The flow `npm start` deploys: a simulated sensor → producer, with the topic ensured at start,
 * delivery reports and errors shown in the debug sidebar.
 */
import type { LocalEndpointInfo } from '../lib/local/types';

export const DEMO_TOPIC = 'sensor-readings';

/** Sensor simulation: a few devices, each reading keyed by device id with two headers. */
const SENSOR_FUNCTION = `
const devices = ['boiler-1', 'pump-2', 'fan-3'];
const i = (context.get('i') || 0) + 1;
context.set('i', i);
const device = devices[i % devices.length];
msg.key = device;
msg.headers = { 'content-source': 'node-red-demo', unit: 'celsius' };
msg.payload = {
  device,
  temperature: Math.round((20 + 5 * Math.sin(i / 5) + Math.random()) * 10) / 10,
  seq: i,
  at: new Date().toISOString(),
};
return msg;
`.trim();

export function buildDemoFlow(endpoint: LocalEndpointInfo & { caPem?: string }): object[] {
  const z = 'demo-tab';
  return [
    { id: z, type: 'tab', label: 'Event Streams demo', info: 'Deployed by npm start.' },
    {
      id: 'demo-comment',
      type: 'comment',
      z,
      name: 'A simulated sensor sends a reading every second to the local Event Streams endpoint',
      info:
        'The endpoint config node points at the local endpoint that `npm start` runs (memory backend, ' +
        'HTTPS with its generated CA). Open it to see the URL, auth mode and CA certificate; replace them ' +
        'with your IBM Cloud service key to send to real Event Streams.',
      x: 370,
      y: 40,
      wires: [],
    },
    {
      id: 'demo-endpoint',
      type: 'event-streams-endpoint',
      name: 'Local endpoint',
      url: endpoint.url,
      adminUrl: endpoint.adminUrl,
      flavour: 'v1',
      authMode: 'bearer',
      verifyTls: true,
      credentials: { apiKey: endpoint.apiKey, ca: endpoint.caPem ?? '' },
    },
    {
      id: 'demo-start',
      type: 'inject',
      z,
      name: 'at start',
      props: [{ p: 'payload' }],
      payload: '{"partitions":3}',
      payloadType: 'json',
      once: true,
      onceDelay: 0.1,
      repeat: '',
      x: 130,
      y: 100,
      wires: [['demo-ensure']],
    },
    {
      id: 'demo-ensure',
      type: 'event-streams-topic-admin',
      z,
      name: 'ensure topic',
      endpoint: 'demo-endpoint',
      backend: 'rest',
      operation: 'ensure',
      topic: DEMO_TOPIC,
      partitions: '3',
      configs: '',
      filter: '',
      x: 330,
      y: 100,
      wires: [['demo-debug-admin']],
    },
    {
      id: 'demo-debug-admin',
      type: 'debug',
      z,
      name: 'topic ensured',
      active: true,
      tosidebar: true,
      console: false,
      complete: 'payload',
      targetType: 'msg',
      x: 540,
      y: 100,
      wires: [],
    },
    {
      id: 'demo-tick',
      type: 'inject',
      z,
      name: 'every second',
      props: [],
      repeat: '1',
      once: true,
      onceDelay: 1,
      x: 140,
      y: 180,
      wires: [['demo-sensor']],
    },
    {
      id: 'demo-sensor',
      type: 'function',
      z,
      name: 'simulated sensor',
      func: SENSOR_FUNCTION,
      outputs: 1,
      x: 330,
      y: 180,
      wires: [['demo-producer']],
    },
    {
      id: 'demo-producer',
      type: 'event-streams-producer',
      z,
      name: '',
      endpoint: 'demo-endpoint',
      topic: DEMO_TOPIC,
      key: 'key',
      keyType: 'msg',
      headers: 'headers',
      headersType: 'msg',
      outputs: 1,
      x: 540,
      y: 180,
      wires: [['demo-debug-report']],
    },
    {
      id: 'demo-debug-report',
      type: 'debug',
      z,
      name: 'delivery report',
      active: true,
      tosidebar: true,
      console: false,
      complete: 'eventstreams',
      targetType: 'msg',
      x: 760,
      y: 180,
      wires: [],
    },
    {
      id: 'demo-catch',
      type: 'catch',
      z,
      name: 'errors',
      scope: null,
      uncaught: false,
      x: 130,
      y: 260,
      wires: [['demo-debug-error']],
    },
    {
      id: 'demo-debug-error',
      type: 'debug',
      z,
      name: 'error',
      active: true,
      tosidebar: true,
      console: false,
      complete: 'error',
      targetType: 'msg',
      x: 330,
      y: 260,
      wires: [],
    },
  ];
}
