// SPDX-License-Identifier: Apache-2.0
/**
 * The credential schema of `event-streams-endpoint`, in one place: the runtime registers it with
 * Node-RED, and the build writes it into `resources/editor.js` for the editor's `credentials`.
 * Secrets are `password` so Node-RED never sends them back to the editor; PEM certificates are
 * `text` so a user can see which one is loaded.
 */
import type { EndpointCredentials } from './types';

export type CredentialName = keyof EndpointCredentials;

export const ENDPOINT_CREDENTIALS: Readonly<Record<CredentialName, { type: 'text' | 'password' }>> = {
  apiKey: { type: 'password' },
  username: { type: 'text' },
  password: { type: 'password' },
  ca: { type: 'text' },
  clientCert: { type: 'text' },
  clientKey: { type: 'password' },
  pfx: { type: 'password' },
  passphrase: { type: 'password' },
};
