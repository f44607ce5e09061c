// SPDX-License-Identifier: Apache-2.0
/** Public entry point of the core: plain TypeScript on undici, no Node-RED imports. */
export * from './errors';
export * from './types';
