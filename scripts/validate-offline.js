// SPDX-License-Identifier: Apache-2.0
'use strict';
/**
 * Preload for `node-red-dev validate` on a machine that cannot reach catalogue.nodered.org:
 *
 *   node -r ./scripts/validate-offline.js node_modules/node-red-dev/bin/run validate -p <dir>
 *
 * node-red-dev fetches the flow library catalogue (https://catalogue.nodered.org/catalogue.json)
 * with axios for two checks: P08 (a similarly named package exists) and N01 (another package
 * registers the same node type). This answers that one URL with an empty catalogue, so those two
 * checks pass vacuously and must be confirmed by a networked run; every other request (the npm
 * registry for P06/P07, npm-remote-ls for D02, npm-check for D03) goes out for real.
 *
 * The catalogue answer can be replaced with a file via VALIDATE_CATALOGUE_FILE (same JSON shape,
 * `{"modules":[{"id","types":[...]}]}`) to check that N01 still detects clashes. (P08 never
 * reports one in node-red-dev 0.1.6: it compares two arrays with `includes`.)
 */
const fs = require('fs');
const path = require('path');

const CATALOGUE_URL = /^https:\/\/catalogue\.nodered\.org\/catalogue\.json/;

function catalogue() {
  const file = process.env.VALIDATE_CATALOGUE_FILE;
  if (file) return JSON.parse(fs.readFileSync(file, 'utf8'));
  return { name: 'Node-RED Community catalogue (offline stand-in)', updated_at: '', modules: [] };
}

// oclif wraps warnings at 80 columns when stderr is not a terminal; one warning per line keeps
// them readable in CI logs and greppable by test/ecosystem/validate.test.ts.
globalThis.columns = globalThis.columns || 1000;

// node-red-dev requires its own copy of axios; patch exactly that instance before it loads.
const devDir = path.dirname(
  require.resolve('node-red-dev/package.json', { paths: [process.cwd(), __dirname] }),
);
const axios = require(require.resolve('axios', { paths: [path.join(devDir, 'src', 'libs')] }));
const realGet = axios.get.bind(axios);
axios.get = function get(url, config) {
  if (typeof url === 'string' && CATALOGUE_URL.test(url)) {
    if (process.env.VALIDATE_OFFLINE_TRACE) process.stderr.write(`validate-offline: answered ${url}\n`);
    return Promise.resolve({
      status: 200,
      statusText: 'OK',
      headers: {},
      config: config || {},
      data: catalogue(),
    });
  }
  return realGet(url, config);
};
