// SPDX-License-Identifier: Apache-2.0
/** nodes/shared/editor-request.ts: which secrets a Test connection request may use. */
import assert from 'node:assert/strict';

import { ENDPOINT_CREDENTIALS } from '../../nodes/shared/credentials';
import { normalizeEndpointOptions } from '../../nodes/shared/endpoint-config';
import {
  destinationKey,
  refusedCombination,
  testRequestConfig,
  type StoredEndpoint,
} from '../../nodes/shared/editor-request';

// The runtime's one credential schema, not a copy of it.
const SCHEMA = ENDPOINT_CREDENTIALS;

const raw = {
  url: '${ES_URL}',
  adminUrl: '',
  iamUrl: '',
  brokers: 'b1:9093, b2:9093',
  authMode: 'bearer',
  verifyTls: true,
};
const stored: StoredEndpoint = {
  raw,
  resolved: normalizeEndpointOptions({ ...raw, url: 'https://es.example:443' }),
  credentials: { apiKey: 'stored-key', password: 'stored-pw' },
};

describe('editor request: stored secrets follow stored destinations', function () {
  it('fills in stored secrets for the stored destinations, resolved as the running node has them', function () {
    const r = testRequestConfig({ ...raw, credentials: { apiKey: '__PWRD__' } }, SCHEMA, stored);
    assert.equal(r.destinationChanged, false);
    assert.equal(r.credentials.apiKey, 'stored-key');
    assert.equal(r.options.url, 'https://es.example:443');
  });

  it('gives no stored secret once url, adminUrl, iamUrl or brokers change, or TLS verification is turned off', function () {
    for (const change of [
      { url: 'https://elsewhere' },
      { adminUrl: 'https://elsewhere' },
      { iamUrl: 'https://elsewhere/identity/token' },
      { brokers: 'b1:9093' },
      { verifyTls: false },
    ]) {
      const r = testRequestConfig(
        { ...raw, ...change, credentials: { apiKey: '__PWRD__', password: '' } },
        SCHEMA,
        stored,
      );
      assert.equal(r.destinationChanged, true, JSON.stringify(change));
      assert.equal(r.credentials.apiKey, undefined);
      assert.equal(r.credentials.password, undefined);
      assert.deepEqual(r.withheld, ['apiKey']);
    }
  });

  it('never substitutes ${VAR} in what the request sends', function () {
    process.env.ES_EDITOR_REQUEST_TEST = 'leaked';
    try {
      const r = testRequestConfig(
        { url: 'https://x', credentials: { apiKey: '${ES_EDITOR_REQUEST_TEST}' } },
        SCHEMA,
        undefined,
      );
      assert.equal(r.credentials.apiKey, '${ES_EDITOR_REQUEST_TEST}');
    } finally {
      delete process.env.ES_EDITOR_REQUEST_TEST;
    }
  });

  it("tests a value sent back exactly as saved (the examples' ${ES_CA}) as the running node resolved it", function () {
    const resolvedRaw = { ...raw, url: 'https://es.example:443', requestTimeout: 7 };
    const example: StoredEndpoint = {
      raw: { ...raw, requestTimeout: '${ES_TIMEOUT}' },
      resolved: stored.resolved,
      resolvedRaw,
      rawCredentials: { apiKey: '${ES_API_KEY}', ca: '${ES_CA}', username: '${ES_USER}' },
      credentials: { apiKey: 'stored-key', ca: 'PEM OF THE CA', username: 'resolved-user' },
    };
    const r = testRequestConfig(
      {
        ...raw,
        requestTimeout: '${ES_TIMEOUT}',
        credentials: { apiKey: '__PWRD__', ca: '${ES_CA}', username: '${ES_USER}' },
      },
      SCHEMA,
      example,
    );
    assert.equal(r.credentials.ca, 'PEM OF THE CA');
    assert.equal(r.credentials.username, 'resolved-user');
    assert.equal(r.options.requestTimeoutMs, 7000);
    // Edited in the dialog: the request's own value, literally.
    const edited = testRequestConfig(
      { ...raw, credentials: { apiKey: '__PWRD__', ca: '${ES_OTHER}' } },
      SCHEMA,
      example,
    );
    assert.equal(edited.credentials.ca, '${ES_OTHER}');
    // Another destination: nothing of the stored node, not even its resolved CA.
    const elsewhere = testRequestConfig(
      { ...raw, url: 'https://elsewhere', credentials: { ca: '${ES_CA}' } },
      SCHEMA,
      example,
    );
    assert.equal(elsewhere.credentials.ca, '${ES_CA}');
  });

  it('refuses v2 with a Basic auth mode (produce would get 401 on every record)', function () {
    assert.equal(refusedCombination({ flavour: 'v2', authMode: 'basic-token' }), 'v2-basic');
    assert.equal(refusedCombination({ flavour: 'v2', authMode: 'basic' }), 'v2-basic');
    assert.equal(refusedCombination({ flavour: 'v2', authMode: 'iam' }), undefined);
    assert.equal(refusedCombination({ flavour: 'v1', authMode: 'basic-token' }), undefined);
  });

  it('compares destinations after normalising case, default ports, blanks and broker order', function () {
    assert.equal(
      destinationKey({ url: ' HTTPS://Es.Example:443/ ', brokers: 'B2:1,b1:1' }),
      destinationKey({ url: 'https://es.example', adminUrl: 'https://es.example/', brokers: 'b1:1 b2:1' }),
    );
  });
});
