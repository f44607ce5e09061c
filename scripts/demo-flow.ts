// SPDX-License-Identifier: Apache-2.0
/**
 * The flow `npm start` deploys: a simulated sensor → producer, with the topic ensured at start,
 * delivery reports and errors shown in the debug sidebar. The Kafka-backed demo (`--kafka`) adds
 * example 09's round trip (producer → topic → consumer → debug) on a tab of its own.
 */
export const DEMO_TOPIC = 'sensor-readings';

/**
 * The endpoint config node of the demo and of every example (same id and name), so importing
 * examples into the demo reuses it instead of adding copies. Its URL and credentials are
 * `${VAR}` references that Node-RED resolves from its environment, which `npm start` sets.
 */
export const SHARED_ENDPOINT_ID = 'esnodes-examples-endpoint';
export const SHARED_ENDPOINT_NAME = 'Event Streams (from environment)';

/** The environment variables the shared endpoint config node reads. */
export interface DemoEnv {
  ES_URL: string;
  ES_ADMIN_URL: string;
  ES_IAM_URL: string;
  ES_API_KEY: string;
  ES_CA: string;
  /** The Kafka-backed demo's brokers (`--kafka`), for the consumer; unset on the memory backend. */
  ES_BROKERS?: string;
}

/** The round-trip example the Kafka-backed demo deploys, and the tab it goes on. */
export const ROUND_TRIP_EXAMPLE = '09 - Round trip producer to consumer.json';
export const ROUND_TRIP_TAB = 'demo-round-trip-tab';

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

/**
 * The demo's flow. With `kafka`, the shared endpoint also reaches the demo's brokers (without SASL,
 * see {@link sharedEndpointNode}) and `roundTrip` (example 09's nodes as its file has them) goes
 * onto a second tab, as the editor's import would put it: its copy of the shared config node is
 * dropped in favour of the demo's.
 */
export function buildDemoFlow(
  opts: { kafka?: boolean; roundTrip?: Array<Record<string, unknown>> } = {},
): object[] {
  const z = 'demo-tab';
  const roundTrip: object[] =
    opts.kafka && opts.roundTrip
      ? [
          {
            id: ROUND_TRIP_TAB,
            type: 'tab',
            label: 'Round trip (Kafka)',
            info: 'Example 09, deployed by npm start -- --kafka. Click "send": the record goes to the topic round-trip and comes back through the consumer to the debug sidebar.',
          },
          ...opts.roundTrip
            .filter((n) => n.id !== SHARED_ENDPOINT_ID)
            .map((n) => ('wires' in n || 'x' in n ? { ...n, z: ROUND_TRIP_TAB } : n)),
        ]
      : [];
  return [
    { id: z, type: 'tab', label: 'Event Streams demo', info: 'Deployed by npm start.' },
    {
      id: 'demo-comment',
      type: 'comment',
      z,
      name: 'A simulated sensor sends a reading every second; the last delivery shows under its debug node',
      info:
        "The endpoint config node reads `${ES_URL}`, `${ES_API_KEY}` and `${ES_CA}` from Node-RED's " +
        'environment; `npm start` sets them to its local endpoint (HTTPS with its generated CA). The ' +
        'examples (Import → Examples → @esnodes/node-red-event-streams) use the same config node: ' +
        'Node-RED then says some nodes already exist (that config node); choose **Import copy**, ' +
        'which adds the example and keeps the one config node.\n\n' +
        "The delivery reports go to the debug node's status, not the debug sidebar, so that your " +
        "own flows' messages stay in view there.\n\n" +
        'For IBM Cloud, start Node-RED with `ES_URL` and `ES_API_KEY` from your service key and `ES_CA` ' +
        'unset, or open the config node and type the values in.',
      x: 370,
      y: 40,
      wires: [],
    },
    sharedEndpointNode(opts.kafka === true),
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
      endpoint: SHARED_ENDPOINT_ID,
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
      endpoint: SHARED_ENDPOINT_ID,
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
      // On its own status only: a reading a second in the debug sidebar would push a user's
      // first delivery report out of view (the sidebar keeps 100 messages).
      id: 'demo-debug-report',
      type: 'debug',
      z,
      name: 'delivery report',
      active: true,
      tosidebar: false,
      console: false,
      tostatus: true,
      complete: 'eventstreams',
      targetType: 'msg',
      statusVal: '"partition " & eventstreams.partition & ", offset " & eventstreams.offset',
      statusType: 'jsonata',
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
      // The message reads as a sentence that starts with the code: shown whole, not as an object.
      complete: 'error.message',
      targetType: 'msg',
      x: 330,
      y: 260,
      wires: [],
    },
    ...roundTrip,
  ];
}

/**
 * The shared config node exactly as the examples carry it (test/examples checks they agree). In
 * the Kafka-backed demo it also names the brokers (`${ES_BROKERS}`) for the consumer and the
 * Kafka transport: the demo's broker listener is PLAINTEXT without SASL, so SASL is set to `none`
 * and TLS off, explicitly (the API key is then not sent to the broker).
 */
export function sharedEndpointNode(kafka = false): Record<string, unknown> {
  return {
    id: SHARED_ENDPOINT_ID,
    type: 'event-streams-endpoint',
    name: SHARED_ENDPOINT_NAME,
    url: '${ES_URL}',
    adminUrl: '${ES_ADMIN_URL}',
    flavour: 'v1',
    authMode: 'bearer',
    iamUrl: '',
    verifyTls: true,
    ...(kafka ? { brokers: '${ES_BROKERS}', saslMechanism: 'none', brokersTls: false } : {}),
    credentials: { apiKey: '${ES_API_KEY}', ca: '${ES_CA}' },
  };
}
